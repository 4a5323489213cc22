package esl_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/asr/testkit"
	"github.com/mrcpd/mrcpd/esl"
	"github.com/mrcpd/mrcpd/esl/esltest"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func startFake(t *testing.T, opts esltest.Options) *esltest.Server {
	t.Helper()
	s, err := esltest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func dial(t *testing.T, s *esltest.Server, mod func(*esl.Config)) *esl.Client {
	t.Helper()
	cfg := esl.Config{Addr: s.Addr(), Password: "ClueCon", HeartbeatInterval: -1, Clock: clock.NewFake()}
	if mod != nil {
		mod(&cfg)
	}
	c, err := esl.Dial(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func nextNamed(t *testing.T, ctx context.Context, call *esl.Call, name string) *esl.Event {
	t.Helper()
	for {
		ev, err := call.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", name, err)
		}
		if ev.Name == name {
			return ev
		}
	}
}

// TestBadPassword replays FreeSWITCH's exact bytes for a wrong password.
func TestBadPassword(t *testing.T) {
	want, err := os.ReadFile("testdata/bad-password.esl")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		greeting := []byte("Content-Type: auth/request\n\n")
		_, _ = nc.Write(greeting)
		if _, err := esltest.ReadCommand(bufio.NewReader(nc)); err != nil {
			return
		}
		_, _ = nc.Write(want[len(greeting):])
	}()
	_, err = esl.Dial(testCtx(t), esl.Config{Addr: ln.Addr().String(), Password: "wrong"})
	wg.Wait()
	var ae *esl.AuthError
	if !errors.As(err, &ae) || ae.Reply != "-ERR invalid" {
		t.Fatalf("got %v, want AuthError -ERR invalid", err)
	}

	// The fake produces the same bytes.
	s := startFake(t, esltest.Options{})
	_, err = esl.Dial(testCtx(t), esl.Config{Addr: s.Addr(), Password: "wrong"})
	if !errors.As(err, &ae) {
		t.Fatalf("fake: got %v", err)
	}
}

func TestOriginateExecuteHangup(t *testing.T) {
	s := startFake(t, esltest.Options{})
	c := dial(t, s, nil)
	ctx := testCtx(t)
	call, err := c.Originate(ctx, esl.OriginateRequest{Dial: "sofia/gateway/pstn/15550001", CallerIDName: "Acme, Inc",
		CallerIDNumber: "15559999", Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer call.Release()
	if err := call.Playback(ctx, "tone_stream://%(500,0,440)"); err != nil {
		t.Fatal(err)
	}
	if v, err := call.GetVar(ctx, "origination_caller_id_name"); err != nil || v != "Acme, Inc" {
		t.Fatalf("caller id name %q %v", v, err)
	}
	if err := call.Hangup(ctx, "USER_BUSY"); err != nil {
		t.Fatal(err)
	}
	var names []string
	for {
		ev, err := call.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, ev.Name)
		if ev.Name == esl.EventChannelHangupComplete {
			if ev.HangupCause() != "USER_BUSY" {
				t.Fatalf("cause %q", ev.HangupCause())
			}
			break
		}
	}
	want := "CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("events:\n got %s\nwant %s", got, want)
	}
}

func TestOriginateFailureCause(t *testing.T) {
	s := startFake(t, esltest.Options{Numbers: map[string]esltest.Behavior{"busy": {Reject: "USER_BUSY"}}})
	c := dial(t, s, nil)
	_, err := c.Originate(testCtx(t), esl.OriginateRequest{Dial: "sofia/gateway/pstn/busy"})
	var ce *esl.CommandError
	if !errors.As(err, &ce) || ce.HangupCause() != "USER_BUSY" || errors.Is(err, esl.ErrThrottled) {
		t.Fatalf("got %v", err)
	}
}

// TestEventOrderPerCallUnderLoad: 40 calls run in parallel through one
// connection, each consumer deliberately slow on some events; every call must
// still see its own events in Event-Sequence order and complete pattern.
func TestEventOrderPerCallUnderLoad(t *testing.T) {
	s := startFake(t, esltest.Options{MaxSPS: 1000})
	c := dial(t, s, nil)
	ctx := testCtx(t)
	const calls, apps = 40, 5
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- runOrderedCall(ctx, c, i, apps)
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func runOrderedCall(ctx context.Context, c *esl.Client, i, apps int) error {
	call, err := c.Originate(ctx, esl.OriginateRequest{Dial: fmt.Sprintf("loopback/%d/default", 1000+i)})
	if err != nil {
		return err
	}
	defer call.Release()
	for a := 0; a < apps; a++ {
		if _, err := call.Execute(ctx, "playback", fmt.Sprintf("silence_stream://%d", 100*(a+1))); err != nil {
			return err
		}
	}
	if err := call.Hangup(ctx, ""); err != nil {
		return err
	}
	var last uint64
	var names []string
	for {
		ev, err := call.Next(ctx)
		if err != nil {
			return err
		}
		if ev.Seq <= last {
			return fmt.Errorf("call %d: seq %d after %d", i, ev.Seq, last)
		}
		last = ev.Seq
		names = append(names, ev.Name)
		if len(names)%3 == 0 {
			runtime.Gosched() // a consumer slower than the reader
		}
		if ev.Name == esl.EventChannelHangupComplete {
			break
		}
	}
	want := "CHANNEL_CREATE CHANNEL_ANSWER" + strings.Repeat(" CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE", apps) +
		" CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE"
	if got := strings.Join(names, " "); got != want {
		return fmt.Errorf("call %d events:\n got %s\nwant %s", i, got, want)
	}
	return nil
}

// TestReplyAfterCancel: the reply to a cancelled command arrives after the next
// command was sent; it must be discarded, not handed to the next command.
func TestReplyAfterCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	gotSecond := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		br := bufio.NewReader(nc)
		_, _ = nc.Write(esltest.AuthRequest())
		for {
			cmd, err := esltest.ReadCommand(br)
			if err != nil {
				return
			}
			switch cmd.Line {
			case "api first":
				// Hold the reply until the second command is in.
				second, err := esltest.ReadCommand(br)
				if err != nil || second.Line != "api second" {
					return
				}
				close(gotSecond)
				_, _ = nc.Write(esltest.APIResponse("reply to first\n"))
				_, _ = nc.Write(esltest.APIResponse("reply to second\n"))
			default:
				_, _ = nc.Write(esltest.Reply("+OK"))
			}
		}
	}()
	reg := prometheus.NewRegistry()
	c, err := esl.Dial(testCtx(t), esl.Config{Addr: ln.Addr().String(), Password: "x", HeartbeatInterval: -1, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	firstDone := make(chan error, 1)
	go func() {
		_, err := c.API(ctx1, "first")
		firstDone <- err
	}()
	testkit.Eventually(t, "first command pending", func() bool { return gaugeValue(t, reg, "esl_pending_commands") == 1 })
	cancel1()
	if err := <-firstDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("first: %v", err)
	}
	body, err := c.API(testCtx(t), "second")
	<-gotSecond
	if err != nil || body != "reply to second\n" {
		t.Fatalf("second got %q %v", body, err)
	}
	if n := counterValue(t, reg, "esl_late_replies_total"); n != 1 {
		t.Fatalf("late replies %v", n)
	}
	_ = c.Close()
	wg.Wait()
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	return counterValue(t, reg, name)
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.Counter != nil {
				sum += m.Counter.GetValue()
			}
			if m.Gauge != nil {
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

// TestMalformedEventSkipped: a broken event is counted and skipped; the
// connection and the calls on it carry on.
func TestMalformedEventSkipped(t *testing.T) {
	s := startFake(t, esltest.Options{})
	reg := prometheus.NewRegistry()
	c := dial(t, s, func(cfg *esl.Config) { cfg.Registry = reg })
	ctx := testCtx(t)
	call, err := c.Originate(ctx, esl.OriginateRequest{Dial: "loopback/1/default"})
	if err != nil {
		t.Fatal(err)
	}
	defer call.Release()
	bad := []string{
		"Content-Length: 23\nContent-Type: text/event-plain\n\nNo-Event-Name: here\n\n\n",
		"Content-Length: 12\nContent-Type: text/event-json\n\n{\"Event-Nam",
		"Content-Length: 40\nContent-Type: text/event-plain\n\nEvent-Name: X\nEvent-Sequence: zz\n\n\n\n\n",
	}
	for _, b := range bad {
		s.InjectRaw([]byte(b))
	}
	if err := call.Playback(ctx, "silence_stream://100"); err != nil {
		t.Fatal(err)
	}
	if n := counterValue(t, reg, "esl_malformed_events_total"); n != float64(len(bad)) {
		t.Fatalf("malformed %v, want %d", n, len(bad))
	}
	if n := counterValue(t, reg, "esl_reconnects_total"); n != 0 {
		t.Fatalf("reconnected %v times", n)
	}
}

// TestReconnectRestoresAndResyncs: the connection dies (every kind of death
// goes through the same path); the client reconnects after its backoff on the
// injected clock, resubscribes, and tells each call what it may have missed.
func TestReconnectRestoresAndResyncs(t *testing.T) {
	s := startFake(t, esltest.Options{})
	clk := clock.NewFake()
	c := dial(t, s, func(cfg *esl.Config) { cfg.Clock = clk })
	ctx := testCtx(t)
	live, err := c.Originate(ctx, esl.OriginateRequest{Dial: "loopback/1/default"})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Release()
	dead, err := c.Originate(ctx, esl.OriginateRequest{Dial: "loopback/2/default"})
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Release()

	s.DropConnections()
	clk.Await(t, "reconnect backoff armed", func(c *clock.Fake) bool { return c.Pending() > 0 })
	// While we are down, one call ends: its hangup events are lost to us.
	if _, err := esltestAPI(s, "uuid_kill "+dead.UUID); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "channel killed", func() bool { r, _ := s.Channel(dead.UUID); return r != nil && r.Cause != "" })
	clk.Advance(100 * time.Millisecond)

	ev := nextNamed(t, ctx, live, esl.EventResync)
	if ev.Get("Resync-Reason") != "reconnect" || ev.Get("Answer-State") != "answered" {
		t.Fatalf("resync %+v", ev.Headers)
	}
	if ev := nextNamed(t, ctx, dead, esl.EventGone); ev.Get("Resync-Reason") != "reconnect" {
		t.Fatalf("gone %+v", ev.Headers)
	}
	// Subscriptions are back: events flow again on the new connection.
	if err := live.Playback(ctx, "silence_stream://20"); err != nil {
		t.Fatal(err)
	}
	nextNamed(t, ctx, live, esl.EventChannelExecuteComplete)
	if s.Accepted() != 3 { // ours, the console's uuid_kill, ours again
		t.Fatalf("accepted %d connections", s.Accepted())
	}
}

// esltestAPI runs an api command on the fake from outside any connection, as
// another ESL client or the console would.
func esltestAPI(s *esltest.Server, line string) (string, error) {
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		return "", err
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	if _, err := esl.ReadMessage(br); err != nil {
		return "", err
	}
	_, _ = io.WriteString(nc, "auth ClueCon\n\napi "+line+"\n\n")
	if _, err := esl.ReadMessage(br); err != nil {
		return "", err
	}
	m, err := esl.ReadMessage(br)
	if err != nil {
		return "", err
	}
	return string(m.Body), nil
}

// TestHeartbeatDetectsWedgedServer: TCP stays up but FreeSWITCH stops
// answering; only the heartbeat's deadline notices.
func TestHeartbeatDetectsWedgedServer(t *testing.T) {
	s := startFake(t, esltest.Options{})
	clk := clock.NewFake()
	reg := prometheus.NewRegistry()
	_ = dial(t, s, func(cfg *esl.Config) {
		cfg.Clock = clk
		cfg.Registry = reg
		cfg.HeartbeatInterval = 15 * time.Second
		cfg.HeartbeatTimeout = 5 * time.Second
	})
	clk.Await(t, "heartbeat armed", func(c *clock.Fake) bool { return c.Pending() == 1 })
	s.Stall(true)
	clk.Advance(15 * time.Second)
	clk.Await(t, "heartbeat timeout armed", func(c *clock.Fake) bool { return c.Pending() == 1 })
	clk.Advance(5 * time.Second)
	testkit.Eventually(t, "reconnect backoff armed", func() bool {
		return counterValue(t, reg, "esl_connected") == 0 && clk.Pending() == 1
	})
	s.Stall(false)
	clk.Advance(100 * time.Millisecond)
	testkit.Eventually(t, "reconnected", func() bool { return counterValue(t, reg, "esl_reconnects_total") == 1 })
	if s.Accepted() != 2 {
		t.Fatalf("accepted %d", s.Accepted())
	}
}

// TestLostEventsNoticeTriggersResync: FreeSWITCH's CRIT log line for an
// overflowed listener queue makes the client re-read its calls.
func TestLostEventsNoticeTriggersResync(t *testing.T) {
	s := startFake(t, esltest.Options{})
	c := dial(t, s, nil)
	ctx := testCtx(t)
	call, err := c.Originate(ctx, esl.OriginateRequest{Dial: "loopback/1/default"})
	if err != nil {
		t.Fatal(err)
	}
	defer call.Release()
	s.SendLog(2, "Lost [1532] events! Event Queue size: [100000/100000]\n")
	if ev := nextNamed(t, ctx, call, esl.EventResync); ev.Get("Resync-Reason") != "lost_events" {
		t.Fatalf("resync %+v", ev.Headers)
	}
}

// TestExecuteWaitsForItsOwnCompletion: a foreign CHANNEL_EXECUTE_COMPLETE on
// the same channel (another client's app) does not complete ours.
func TestExecuteWaitsForItsOwnCompletion(t *testing.T) {
	s := startFake(t, esltest.Options{})
	c := dial(t, s, nil)
	ctx := testCtx(t)
	call, err := c.Originate(ctx, esl.OriginateRequest{Dial: "loopback/1/default"})
	if err != nil {
		t.Fatal(err)
	}
	defer call.Release()
	foreign := "Event-Name: CHANNEL_EXECUTE_COMPLETE\nUnique-ID: " + call.UUID +
		"\nApplication: playback\nApplication-UUID: not-ours\nvariable_playback_ms: 999\n\n"
	s.InjectRaw([]byte(fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(foreign), foreign)))
	ev, err := call.Execute(ctx, "playback", "silence_stream://250")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Var("playback_ms") != "250" || ev.Get("Application-UUID") == "not-ours" {
		t.Fatalf("completed by %s playback_ms=%s", ev.Get("Application-UUID"), ev.Var("playback_ms"))
	}
}

func TestJSONEventsDecoded(t *testing.T) {
	s := startFake(t, esltest.Options{})
	c := dial(t, s, func(cfg *esl.Config) { cfg.Format = "json" })
	ctx := testCtx(t)
	call, err := c.Originate(ctx, esl.OriginateRequest{Dial: "loopback/1/default", Vars: map[string]string{"greeting": "a b,c"}})
	if err != nil {
		t.Fatal(err)
	}
	defer call.Release()
	ev := nextNamed(t, ctx, call, esl.EventChannelAnswer)
	if ev.Var("greeting") != "a b,c" || ev.Seq == 0 {
		t.Fatalf("json event %+v", ev)
	}
}

func TestCloseUnblocksWaiters(t *testing.T) {
	s := startFake(t, esltest.Options{})
	c := dial(t, s, nil)
	call := c.Track("nobody")
	errc := make(chan error, 1)
	go func() {
		_, err := call.Next(context.Background())
		errc <- err
	}()
	_ = c.Close()
	if err := <-errc; !errors.Is(err, esl.ErrClosed) {
		t.Fatalf("got %v", err)
	}
	if _, err := c.API(context.Background(), "status"); !errors.Is(err, esl.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}
