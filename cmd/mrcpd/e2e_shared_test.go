package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/mrcp/client"
	"github.com/mrcpd/mrcpd/mrcp/nlsml"
	"github.com/mrcpd/mrcpd/plugins/pocketsphinx/speechset"
)

// rtp.shared_port through the real binaries: every session's answer names one of the two workers'
// shared ports, four concurrent RFC 4733 RECOGNIZEs each get their own digits, a spoken "yes"
// is recognised, and no datagram went unrouted.
func TestE2ESharedPort(t *testing.T) {
	utts := generateSpeech(t, map[string]int{speechset.Boolean: 1},
		speechset.Options{Voices: []speechset.Voice{{Synth: "espeak-ng", Name: "en-us", Speed: 150}}, Pad: 800})
	if len(utts) != 1 || utts[0].Text != "yes" {
		t.Fatalf("generated %+v, want one \"yes\"", utts)
	}
	shared, rtp := freePort(t)&^1, freePort(t)&^1
	for shared+4 > 65535 || (rtp <= shared+4 && shared <= rtp+200) {
		shared, rtp = freePort(t)&^1, freePort(t)&^1
	}
	cfg := fmt.Sprintf("rtp:\n  shared_port: %d\n  workers: 2\n", shared) +
		speechConfig(t, EnginesConfig{Plugins: []PluginConfig{pocketsphinxPlugin(t)}})
	d := startMrcpd(t, cfg, "--rtp-ports", fmt.Sprintf("%d-%d", rtp, rtp+200))
	ctx, c := newClient(t, d.sip, 90*time.Second)

	digits := []string{"1234", "5678", "9012", "3456"}
	var wg sync.WaitGroup
	errs := make([]error, len(digits)+1)
	run := func(i int, req client.RecognizeRequest, check func(*client.RecognizeResult) error) {
		defer wg.Done()
		s, err := c.Open(ctx, "speechrecog")
		if err != nil {
			errs[i] = err
			return
		}
		defer s.Close(ctx)
		if p := s.RemoteRTP.Port; p != shared && p != shared+2 {
			errs[i] = fmt.Errorf("answer's RTP port %d, want %d or %d", p, shared, shared+2)
			return
		}
		res, err := s.Recognize(ctx, req)
		if err == nil {
			err = check(res)
		}
		errs[i] = err
	}
	instance := func(want string) func(*client.RecognizeResult) error {
		return func(res *client.RecognizeResult) error {
			r, err := nlsml.Parse(res.NLSML)
			if err != nil || !res.Success() || len(r.Interpretations) != 1 || r.Interpretations[0].Instance != want {
				return fmt.Errorf("%s %v, want instance %q:\n%s", res.Cause, err, want, res.NLSML)
			}
			return nil
		}
	}
	for i, dg := range digits {
		wg.Add(1)
		go run(i, client.RecognizeRequest{Grammar: "builtin:dtmf/digits?length=4", DTMF: dg}, instance(dg))
	}
	wg.Add(1)
	go run(len(digits), client.RecognizeRequest{Grammar: "builtin:grammar/boolean", Audio: utts[0].PCM,
		AudioRate: speechset.Rate}, instance("true"))
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("session %d: %v", i, err)
		}
	}
	if t.Failed() {
		t.Fatalf("mrcpd log:\n%s", d.log)
	}
	resp, err := http.Get("http://" + d.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "\nmrcpd_rtp_packets_unrouted_total 0\n") {
		t.Fatalf("datagrams went unrouted:\n%s", grepLines(string(body), "mrcpd_rtp_packets_"))
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
