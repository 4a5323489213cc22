// Package plugin runs speech backends as separate processes: hashicorp/go-plugin over gRPC.
//
// A plugin binary's main calls Serve with its asr.Recognizer and/or asr.Synthesizer. mrcpd calls
// Start with the binary's path, and gets back a Host whose Recognizer() and Synthesizer() implement
// the asr interfaces by proxy: context cancellation crossing the boundary, a crashed or hung process
// failing its streams with *asr.Error{Kind: asr.ErrUnavailable} and being restarted with backoff.
//
// Each Synthesize is a bidirectional gRPC stream of its own. Each Recognize is a logical
// bidirectional stream, with its own id, order, cancel and end, multiplexed with every other
// recognition of the process over one gRPC stream (the Streams RPC): a gRPC stream per
// recognition made every stream's 20 ms frames messages of their own, and 500 concurrent
// recognitions cost about 4.5 times the CPU of an in-process engine. The host sends all streams'
// inputs as one message per flush interval (see mux), and the plugin hands each batch's audio to
// the engines from buffers it reuses, which asr.Audio allows.
package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/experimental"

	"github.com/mrcpd/mrcpd/asr/pluginpb"
)

// ProtocolVersion is the version of asr/pluginpb this package speaks. A host serves every version it
// knows side by side (go-plugin's VersionedPlugins) so that old plugin binaries keep working.
const ProtocolVersion = 1

// Handshake is shared by host and plugins. The cookie only stops a user from running a plugin
// binary by hand; it is not a security measure.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "MRCPD_PLUGIN",
	MagicCookieValue: "speech-backend-7d1c",
}

// pluginName is the single entry of the plugin set: one gRPC server carries the Recognizer,
// Synthesizer and Control services, and the host learns which the plugin implements from Info.
const pluginName = "asr"

// Environment variables the host sets for the plugin process.
const (
	// EnvSettings holds the plugin's `settings:` map from the mrcpd config, as a JSON object.
	EnvSettings = "MRCPD_PLUGIN_SETTINGS"
	// EnvName is the plugin's name in the mrcpd config.
	EnvName = "MRCPD_PLUGIN_NAME"
)

// Settings returns the per-plugin settings the host passed (engines.plugins[].settings in the
// mrcpd config). A plugin main reads them before it builds its engine.
func Settings() (map[string]string, error) {
	s := map[string]string{}
	raw := os.Getenv(EnvSettings)
	if raw == "" {
		return s, nil
	}
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return nil, fmt.Errorf("plugin: %s is not a JSON object of strings: %w", EnvSettings, err)
	}
	return s, nil
}

// grpcPlugin is the go-plugin adapter. On the plugin side it registers the servers; on the host
// side it returns a *clients.
type grpcPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	cfg ServeConfig
}

func (p *grpcPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	if p.cfg.Recognizer != nil {
		pluginpb.RegisterRecognizerServer(s, &recognizerServer{impl: p.cfg.Recognizer, codec: p.cfg.codec})
	}
	if p.cfg.Synthesizer != nil {
		pluginpb.RegisterSynthesizerServer(s, &synthesizerServer{impl: p.cfg.Synthesizer})
	}
	pluginpb.RegisterControlServer(s, controlServer{})
	return nil
}

func (p *grpcPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &clients{
		rec:  pluginpb.NewRecognizerClient(c),
		syn:  pluginpb.NewSynthesizerClient(c),
		ctrl: pluginpb.NewControlClient(c),
	}, nil
}

type clients struct {
	rec  pluginpb.RecognizerClient
	syn  pluginpb.SynthesizerClient
	ctrl pluginpb.ControlClient
}

// Transport settings of both ends. A flush of 500 streams is some 250 KB: with gRPC's default
// 64 KB flow-control windows and 32 KB buffers it would take several window updates, wake-ups and
// syscalls per batch.
const (
	transportWindow = 8 << 20
	transportBuffer = 512 << 10
)

func dialOptions() []grpc.DialOption {
	c := newCodec()
	return []grpc.DialOption{experimental.WithBufferPool(c.pool), grpc.WithDefaultCallOptions(grpc.ForceCodecV2(c)),
		grpc.WithInitialWindowSize(transportWindow), grpc.WithInitialConnWindowSize(transportWindow),
		grpc.WithWriteBufferSize(transportBuffer), grpc.WithReadBufferSize(transportBuffer),
	}
}

func newGRPCServer(c *codec, opts []grpc.ServerOption) *grpc.Server {
	return grpc.NewServer(append(opts, experimental.BufferPool(c.pool), grpc.ForceServerCodecV2(c),
		grpc.InitialWindowSize(transportWindow), grpc.InitialConnWindowSize(transportWindow),
		grpc.WriteBufferSize(transportBuffer), grpc.ReadBufferSize(transportBuffer))...)
}

func pluginSets(cfg ServeConfig) map[int]goplugin.PluginSet {
	return map[int]goplugin.PluginSet{
		ProtocolVersion: {pluginName: &grpcPlugin{cfg: cfg}},
	}
}

type controlServer struct {
	pluginpb.UnimplementedControlServer
}

func (controlServer) Ping(context.Context, *pluginpb.PingRequest) (*pluginpb.PingResponse, error) {
	return &pluginpb.PingResponse{}, nil
}
