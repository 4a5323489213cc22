package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr/testkit"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/client"
	"github.com/mrcpd/mrcpd/plugins/pocketsphinx/speechset"
)

// Issue 12, item 1, as it was found: a second TCP connection naming another session's
// Channel-Identifier took the session over. Now it gets 403, the session's own connection keeps
// its channel, and the metric counts the attempt.
func TestE2EChannelHijackRefused(t *testing.T) {
	d := startMrcpd(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := d.newClient(t)
	victim, err := c.Open(ctx, "speechrecog")
	if err != nil {
		t.Fatalf("open: %v\n%s", err, d.log)
	}
	defer victim.Close(ctx)
	if resp, err := victim.Send(ctx, victim.NewRequest(mrcp.MethodGetParams)); err != nil || resp.StatusCode != 200 {
		t.Fatalf("victim's first request: %v %v", resp, err)
	}

	thief, err := net.Dial("tcp", d.mrcp)
	if err != nil {
		t.Fatal(err)
	}
	thief.SetDeadline(time.Now().Add(10 * time.Second))
	dec := mrcp.NewDecoder(thief, 1<<20)
	for i, m := range []*mrcp.Message{
		mrcp.NewRequest(mrcp.MethodSetParams, 1000, victim.Channel),
		mrcp.NewRequest(mrcp.MethodSpeak, 1001, victim.Channel),
	} {
		m.Header.Set(mrcp.HeaderNoInputTimeout, "1")
		if _, err := thief.Write(m.Append(nil)); err != nil {
			t.Fatal(err)
		}
		resp, err := dec.Decode()
		if err != nil || resp.StatusCode != mrcp.Status403 {
			t.Fatalf("request %d on the other connection: %v %v", i, resp, err)
		}
	}
	thief.Close()

	res, err := victim.Recognize(ctx, client.RecognizeRequest{Grammar: "builtin:dtmf/digits?length=3", DTMF: "123"})
	if err != nil || !res.Success() {
		t.Fatalf("victim after the attempt: %v %+v\n%s", err, res, d.log)
	}
	if got := metricValue(t, d, `mrcpd_control_requests_refused_total{reason="other-connection"}`); got != "2" {
		t.Fatalf("refused requests counted %q, want 2", got)
	}
}

// metricValue reads one series of mrcpd's /metrics ("" when absent).
func metricValue(t *testing.T, d *daemonProc, series string) string {
	t.Helper()
	resp, err := http.Get("http://" + d.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}

// Issue 12, item 4, as it was found: connections without end, bytes without a line end buffered
// silently, idle connections kept forever. Each limit now answers, closes, and is counted.
func TestE2EControlConnectionLimits(t *testing.T) {
	d := startMrcpd(t, "mrcp:\n  max_connections_per_host: 5\n  idle_timeout: 500ms\n  message_timeout: 500ms\n")
	read := func(nc net.Conn) (*mrcp.Message, error) {
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		return mrcp.NewDecoder(nc, 1<<20).Decode()
	}
	dial := func() net.Conn {
		nc, err := net.Dial("tcp", d.mrcp)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return nc
	}
	var conns []net.Conn
	for range 6 {
		conns = append(conns, dial())
	}
	// The sixth is closed at once; the five others only when idle_timeout has passed.
	if _, err := read(conns[5]); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("connection past the per-host cap: %v", err)
	}
	for i, nc := range conns[:5] {
		if _, err := read(nc); !errors.Is(err, io.EOF) && !isReset(err) {
			t.Fatalf("idle connection %d: %v", i, err)
		}
	}
	// Bytes without a line end: answered 408 at once, not buffered up to max_message_size.
	nc := dial()
	if _, err := nc.Write(bytes.Repeat([]byte{0x17}, 4096)); err != nil {
		t.Fatal(err)
	}
	if m, err := read(nc); err != nil || m.StatusCode != mrcp.Status408 {
		t.Fatalf("bytes without a line end: %v %v", m, err)
	}
	for series, want := range map[string]string{
		`mrcpd_control_connections_closed_total{reason="max-connections-per-host"}`: "1",
		`mrcpd_control_connections_closed_total{reason="idle"}`:                     "5",
		`mrcpd_control_connections_closed_total{reason="bad-message"}`:              "1",
	} {
		if got := metricValue(t, d, series); got != want {
			t.Errorf("%s = %q, want %s", series, got, want)
		}
	}
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

// A request whose header value is not UTF-8 gets 404 naming the header, and nothing else is
// disturbed. Before, a RECOGNIZE's Vendor-Specific-Parameters in Latin-1 went on to the recognizer
// plugin, whose process carries every call's recognition on one gRPC stream that refused to
// marshal it: each other call's recognition on the process ended 006 and the process restarted.
func TestE2EHeaderNotUTF8(t *testing.T) {
	utt, err := speechset.GenerateText(context.Background(), t.TempDir(), "u", "yes", speechset.Voice{Synth: "espeak-ng", Name: "en-us"})
	if err != nil {
		t.Skip(err)
	}
	plug := testkit.Binary(t, "plugins/noop")
	d := startMrcpd(t, fmt.Sprintf("engines:\n  recognizer: np\n  plugins:\n    - {name: np, kind: recognizer, path: %s}\n", plug))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := d.newClient(t)
	// The victim's recognition: its engine stream stays open while the caller speaks (2 s of
	// silence before the word), and the no-op engine ends it 001 at end of speech.
	pcm := append(make([]int16, 2*speechset.Rate), utt.PCM...)
	victim := make(chan error, 1)
	go func() { victim <- oneRecognition(ctx, c, pcm) }()
	const active = `mrcpd_backend_active_streams{backend="np",op="recognize"}`
	testkit.Eventually(t, "the victim's engine stream", func() bool { return metricValue(t, d, active) == "1" })

	s, err := c.Open(ctx, "speechrecog")
	if err != nil {
		t.Fatalf("open: %v\n%s", err, d.log)
	}
	defer s.Close(ctx)
	req := s.NewRequest(mrcp.MethodRecognize)
	req.Header.Set(mrcp.HeaderVendorSpecificParameters, "accent=caf\xe9")
	req.Header.Set(mrcp.HeaderContentType, "text/uri-list")
	req.Body = []byte("builtin:speech/transcribe")
	resp, err := s.Send(ctx, req)
	if err != nil || resp.StatusCode != mrcp.Status404 || !strings.Contains(string(resp.Append(nil)), mrcp.HeaderVendorSpecificParameters) {
		t.Fatalf("RECOGNIZE with a Latin-1 header value: %v %v", resp, err)
	}
	if err := <-victim; err != nil {
		t.Fatalf("the other call's recognition: %v\n%s", err, d.log.warnings(20))
	}
	if got := metricValue(t, d, `mrcpd_backend_restarts_total{backend="np",reason="process"}`); got != "" && got != "0" {
		t.Errorf("plugin restarted %s times", got)
	}
}
