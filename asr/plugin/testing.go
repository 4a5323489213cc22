package plugin

import (
	"context"
	"log/slog"
	"testing"

	goplugin "github.com/hashicorp/go-plugin"
)

// NewTestHost serves cfg over an in-process gRPC connection (go-plugin's TestPluginGRPCConn): the
// whole protocol, adapters and multiplex included, without building or starting a binary. For a
// plugin's unit tests; crash recovery needs a real process (Start).
func NewTestHost(t testing.TB, cfg ServeConfig) *Host {
	t.Helper()
	client, server := goplugin.TestPluginGRPCConn(t, false, pluginSets(cfg)[ProtocolVersion])
	raw, err := client.Dispense(pluginName)
	if err != nil {
		t.Fatal(err)
	}
	hcfg := HostConfig{Name: "test", Logger: slog.New(slog.DiscardHandler)}
	hcfg.defaults()
	hctx, cancel := context.WithCancel(context.Background())
	h := &Host{cfg: hcfg, ctx: hctx, cancel: cancel}
	h.rec, h.syn = &hostRecognizer{h: h}, &hostSynthesizer{h: h}
	in := &instance{h: h, log: hcfg.Logger}
	h.instances = []*instance{in}
	// Closing the client asks the server to stop (go-plugin's controller Shutdown); stopping it
	// here as well would race with that.
	g := &gen{cl: raw.(*clients), closeConn: func() {
		client.Close()
		<-server.DoneCh
	}}
	if err := h.attach(context.Background(), g); err != nil {
		g.closeConn()
		t.Fatal(err)
	}
	in.setGen(g)
	h.hasRec, h.hasSyn = g.recInfo != nil, g.synInfo != nil
	t.Cleanup(func() { h.Close() })
	return h
}
