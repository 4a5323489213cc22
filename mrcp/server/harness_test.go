package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/mrcptest"
	"github.com/mrcpd/mrcpd/mrcp/sip"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newFakeClock starts where the server's tests always did.
func newFakeClock() *clock.Fake { return clock.NewFakeAt(time.Unix(1_700_000_000, 0)) }

// waitTimers waits until n timers are pending: the session arms them on its own goroutine, and a
// test that advanced the clock before would skip them.
func waitTimers(t *testing.T, c *clock.Fake, n int) {
	t.Helper()
	c.Await(t, fmt.Sprintf("%d pending timers", n), func(c *clock.Fake) bool { return c.Pending() >= n })
}

// fakeMedia hands out real loopback UDP sockets but in-memory streams: tests play the worker,
// running frames through the installed taps and raising digits.
type fakeMedia struct {
	mu      sync.Mutex
	streams []*fakeStream
	started chan struct{} // a stream opened
}

func (f *fakeMedia) Formats() []media.Format {
	return []media.Format{{PT: 0, Name: "PCMU", ClockRate: 8000, Channels: 1},
		{PT: 8, Name: "PCMA", ClockRate: 8000, Channels: 1},
		{PT: 101, Name: "telephone-event", ClockRate: 8000, Channels: 1, Fmtp: "0-15"}}
}

func (f *fakeMedia) Listen(net.Addr) (net.PacketConn, error) {
	return net.ListenPacket("udp", "127.0.0.1:0")
}

func (f *fakeMedia) Open(conn net.PacketConn, cfg media.StreamConfig) (media.Stream, error) {
	s := &fakeStream{cfg: cfg, conn: conn}
	if cfg.Send {
		s.tx = &fakeSender{}
	}
	f.mu.Lock()
	f.streams = append(f.streams, s)
	f.mu.Unlock()
	return s, nil
}

// receiver waits for the i-th receiving stream.
func (f *fakeMedia) receiver(t *testing.T, i int) *fakeStream {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		var rx []*fakeStream
		for _, s := range f.streams {
			if s.cfg.Receive {
				rx = append(rx, s)
			}
		}
		f.mu.Unlock()
		if i < len(rx) {
			return rx[i]
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("receiver never started")
	return nil
}

func (f *fakeMedia) sender(i int) *fakeSender {
	f.mu.Lock()
	defer f.mu.Unlock()
	var tx []*fakeSender
	for _, s := range f.streams {
		if s.tx != nil {
			tx = append(tx, s.tx)
		}
	}
	return tx[i]
}

type fakeStream struct {
	cfg  media.StreamConfig
	conn net.PacketConn
	tx   *fakeSender
	last time.Time // no packet ever: LastPacket is zero

	mu     sync.Mutex // held while a frame runs through the taps, as the worker's
	taps   []*media.Tap
	closed bool
}

// Audio runs a frame through the taps as a worker does, then waits until the session has handled
// the events it raised (the session drains its events before any call). It first waits for the
// session to finish what it is doing: a request answered IN-PROGRESS installs its tap just after.
func (s *fakeStream) Audio(pcm []int16) {
	s.settle()
	s.mu.Lock()
	for _, t := range s.taps {
		t.Frame(pcm)
	}
	s.mu.Unlock()
	s.settle()
}

func (s *fakeStream) DTMF(d rune) {
	s.cfg.Events.MediaEvent(media.Event{Kind: media.EventDigit, Digit: d})
	s.settle()
}

func (s *fakeStream) settle() {
	if de, ok := s.cfg.Events.(*digitEvents); ok {
		_ = de.se.call(context.Background(), func() error { return nil })
	}
}

func (s *fakeStream) AddTap(t *media.Tap) {
	s.mu.Lock()
	s.taps = append(s.taps, t)
	s.mu.Unlock()
}

func (s *fakeStream) RemoveTap(t *media.Tap) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.taps {
		if x == t {
			s.taps = append(s.taps[:i], s.taps[i+1:]...)
			return
		}
	}
}

func (s *fakeStream) LastPacket() time.Time { return s.last }

// Stats counts like media's streams do, so that records carry RTP stats.
func (s *fakeStream) Stats() media.JitterStats {
	return media.JitterStats{Received: 42, Lost: 1, Jitter: 3 * time.Millisecond}
}
func (s *fakeStream) String() string { return "fakeStream" }
func (s *fakeStream) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return s.conn.Close()
}
func (s *fakeStream) Output() media.Output {
	if s.tx == nil {
		return nil
	}
	return s.tx
}

// fakeSender "plays" instantly and records what it was given.
type fakeSender struct {
	mu      sync.Mutex
	written int
	flushed int
}

func (s *fakeSender) Write(pcm []int16) error {
	s.mu.Lock()
	s.written += len(pcm)
	s.mu.Unlock()
	return nil
}
func (s *fakeSender) End() <-chan struct{} { c := make(chan struct{}); close(c); return c }
func (s *fakeSender) Flush()               { s.mu.Lock(); s.flushed++; s.mu.Unlock() }
func (s *fakeSender) Pause()               {}
func (s *fakeSender) Resume()              {}

// fakeHangup records server-initiated BYEs.
type fakeHangup struct{ byes chan string }

func (h *fakeHangup) Bye(_ context.Context, callID string) error { h.byes <- callID; return nil }

type harness struct {
	t      *testing.T
	srv    *Server
	clock  *clock.Fake
	media  *fakeMedia
	hangup *fakeHangup
	cancel context.CancelFunc
	done   chan error
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, clock: newFakeClock(), media: &fakeMedia{}, hangup: &fakeHangup{byes: make(chan string, 16)}}
	cfg := Config{Addr: "127.0.0.1:0", Media: h.media, Clock: h.clock, MaxMessageSize: 4096,
		RecorderDir: t.TempDir(), ConnectTimeout: 10 * time.Second, MediaTimeout: -1}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetHangup(h.hangup)
	h.srv = srv
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-h.done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

func fixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(mrcptest.Fixtures(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sdpBody is the SDP of a captured INVITE.
func sdpBody(t testing.TB, rel string) []byte {
	b := fixture(t, rel)
	i := strings.Index(string(b), "\r\n\r\n")
	if i < 0 {
		i = strings.Index(string(b), "\n\n")
		return b[i+2:]
	}
	return b[i+4:]
}

var channelRE = regexp.MustCompile(`a=channel:(\S+)`)

// offer runs an INVITE's offer and returns the channel ids of the answer.
func (h *harness) offer(callID string, body []byte) ([]string, []byte) {
	h.t.Helper()
	ans, err := h.srv.Offer(context.Background(), &sip.Call{CallID: callID, Remote: "127.0.0.1:5092"}, body, false)
	if err != nil {
		h.t.Fatalf("Offer: %v", err)
	}
	var ids []string
	for _, m := range channelRE.FindAllSubmatch(ans, -1) {
		ids = append(ids, string(m[1]))
	}
	return ids, ans
}

// client is a raw control connection.
type client struct {
	t    *testing.T
	c    net.Conn
	dec  *mrcp.Decoder
	msgs chan *mrcp.Message
	errs chan error
}

func (h *harness) dial() *client {
	h.t.Helper()
	c, err := net.Dial("tcp", h.srv.Addr().String())
	if err != nil {
		h.t.Fatal(err)
	}
	return h.wrap(c)
}

// wrap reads what the server sends on c in the background.
func (h *harness) wrap(c net.Conn) *client {
	cl := &client{t: h.t, c: c, dec: mrcp.NewDecoder(c, 1<<20), msgs: make(chan *mrcp.Message, 64), errs: make(chan error, 1)}
	// done lets the reader go when the test ends with answers it never read (a full msgs would
	// hold the reader past the connection's close, and goleak would count it).
	done := make(chan struct{})
	go func() {
		for {
			m, err := cl.dec.Decode()
			if err != nil {
				cl.errs <- err
				close(cl.msgs)
				return
			}
			select {
			case cl.msgs <- m:
			case <-done:
				return
			}
		}
	}()
	h.t.Cleanup(func() { close(done); c.Close() })
	return cl
}

func (cl *client) write(b []byte) {
	cl.t.Helper()
	if _, err := cl.c.Write(b); err != nil {
		cl.t.Fatal(err)
	}
}

func (cl *client) send(m *mrcp.Message) { cl.write(m.Append(nil)) }

// sendFixture sends a captured client message with its channel replaced by ours.
func (cl *client) sendFixture(rel, channel string) *mrcp.Message {
	cl.t.Helper()
	m, err := mrcp.Parse(fixture(cl.t, rel))
	if err != nil {
		cl.t.Fatalf("%s: %v", rel, err)
	}
	m.Header.Set(mrcp.HeaderChannelIdentifier, channel)
	cl.send(m)
	return m
}

func (cl *client) next() *mrcp.Message {
	cl.t.Helper()
	select {
	case m, ok := <-cl.msgs:
		if !ok {
			cl.t.Fatalf("connection closed: %v", <-cl.errs)
		}
		return m
	case <-time.After(5 * time.Second):
		cl.t.Fatal("no message from server")
	}
	return nil
}

// closed waits for the server to close the connection.
func (cl *client) closed() {
	cl.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-cl.msgs:
			if !ok {
				return
			}
		case <-deadline:
			cl.t.Fatal("server kept the connection open")
		}
	}
}

// expect checks start line and headers against want (a fixture), with the channel replaced.
func expect(t *testing.T, got *mrcp.Message, want *mrcp.Message) {
	t.Helper()
	if got.Kind != want.Kind || got.Name != want.Name || got.RequestID != want.RequestID ||
		got.StatusCode != want.StatusCode || got.State != want.State {
		t.Fatalf("start line: got %v %s %d %d %s, want %v %s %d %d %s", got.Kind, got.Name, got.RequestID,
			got.StatusCode, got.State, want.Kind, want.Name, want.RequestID, want.StatusCode, want.State)
	}
	for _, f := range want.Header.Fields {
		if equalName(f.Name, mrcp.HeaderChannelIdentifier) || equalName(f.Name, mrcp.HeaderContentLength) {
			continue
		}
		if v, ok := got.Header.Get(f.Name); !ok || v != f.Value {
			t.Errorf("header %s: got %q (present %v), want %q", f.Name, v, ok, f.Value)
		}
	}
}

func wantFixture(t *testing.T, rel, channel string) *mrcp.Message {
	m, err := mrcp.Parse(fixture(t, rel))
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	m.Header.Set(mrcp.HeaderChannelIdentifier, channel)
	return m
}

// holdRecognizer is a voice engine that hears nothing until cancelled, or answers Final text when
// it is given FinalizeInput.
type holdRecognizer struct{ text string }

func (r *holdRecognizer) Info(context.Context) (asr.RecognizerInfo, error) {
	return asr.RecognizerInfo{Name: "hold", GrammarTypes: []string{"application/srgs+xml"}, SampleRates: []int{8000}}, nil
}

func (r *holdRecognizer) Recognize(ctx context.Context, req asr.RecognizeRequest) (asr.RecognitionStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	return &holdStream{ctx: ctx, cancel: cancel, text: r.text, fin: make(chan struct{}, 1)}, nil
}

type holdStream struct {
	ctx    context.Context
	cancel context.CancelFunc
	text   string
	fin    chan struct{}
	sent   bool
}

func (s *holdStream) Send(in asr.Input) error {
	if _, ok := in.(*asr.FinalizeInput); ok {
		select {
		case s.fin <- struct{}{}:
		default:
		}
	}
	return nil
}

func (s *holdStream) Recv() (asr.Event, error) {
	if s.sent {
		return nil, io.EOF
	}
	select {
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	case <-s.fin:
		s.sent = true
		return &asr.Final{Alternatives: []asr.Alternative{{Text: s.text, Confidence: 0.9}}}, nil
	}
}

func (s *holdStream) Close() error { s.cancel(); return nil }

// toneSynth emits n chunks of a known PCM pattern.
type toneSynth struct{ chunks int }

func (s *toneSynth) Info(context.Context) (asr.SynthesizerInfo, error) {
	return asr.SynthesizerInfo{Name: "tone", SampleRates: []int{8000}}, nil
}

func (s *toneSynth) Synthesize(ctx context.Context, req asr.SynthesizeRequest) (asr.SynthesisStream, error) {
	return &toneStream{ctx: ctx, left: s.chunks}, nil
}

type toneStream struct {
	ctx  context.Context
	left int
}

func (s *toneStream) Recv() (asr.SynthEvent, error) {
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	if s.left == 0 {
		return nil, io.EOF
	}
	s.left--
	return &asr.SynthAudio{PCM: make([]int16, 160)}, nil
}

func (s *toneStream) Close() error { return nil }
