package esl_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/asr/testkit"
	"github.com/mrcpd/mrcpd/esl"
	"github.com/mrcpd/mrcpd/esl/esltest"
	"github.com/prometheus/client_golang/prometheus"
)

// TestEveryConnectionDeathReconnects: eslgo notices a dead connection only
// when the read error is exactly EOF. Here a reset, garbage on the wire, a
// lying Content-Length and a disconnect notice all end in a reconnect that
// restores the subscription and the filters.
func TestEveryConnectionDeathReconnects(t *testing.T) {
	kills := []struct {
		name string
		kill func(s *esltest.Server)
	}{
		{"closed", func(s *esltest.Server) { s.DropConnections() }},
		{"garbage header", func(s *esltest.Server) { s.InjectRaw([]byte("this is not a header\n\n")) }},
		{"bad content-length", func(s *esltest.Server) {
			s.InjectRaw([]byte("Content-Type: api/response\nContent-Length: -5\n\n"))
		}},
		{"disconnect notice", func(s *esltest.Server) { s.InjectRaw(esltest.DisconnectNotice()) }},
	}
	for _, k := range kills {
		t.Run(k.name, func(t *testing.T) {
			s := startFake(t, esltest.Options{})
			clk := clock.NewFake()
			reg := prometheus.NewRegistry()
			c := dial(t, s, func(cfg *esl.Config) { cfg.Clock = clk; cfg.Registry = reg })
			ctx := testCtx(t)
			if err := c.AddFilter(ctx, "Unique-ID", "keep-me"); err != nil {
				t.Fatal(err)
			}
			k.kill(s)
			testkit.Eventually(t, "backoff armed", func() bool { return clk.Pending() == 1 && counterValue(t, reg, "esl_connected") == 0 })
			clk.Advance(100 * time.Millisecond)
			testkit.Eventually(t, "reconnected", func() bool { return counterValue(t, reg, "esl_reconnects_total") == 1 })
			testkit.Eventually(t, "the fake noticed the old connection closed", func() bool { return s.Connections() == 1 })
			subs := s.Subscriptions()
			if len(subs) != 1 || subs[0] != "plain filter=Unique-ID:keep-me log=2" {
				t.Fatalf("restored subscriptions %q", subs)
			}
			if _, err := c.API(ctx, "status"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestBackoffGrows: while FreeSWITCH is unreachable the delay between
// attempts doubles from BackoffMin up to BackoffMax, on the injected clock.
func TestBackoffGrows(t *testing.T) {
	s := startFake(t, esltest.Options{})
	clk := clock.NewFake()
	reg := prometheus.NewRegistry()
	var attempts atomic.Int32
	var refuse atomic.Bool
	_ = dial(t, s, func(cfg *esl.Config) {
		cfg.Clock = clk
		cfg.Registry = reg
		cfg.BackoffMax = 400 * time.Millisecond
		cfg.Dial = func(ctx context.Context, addr string) (net.Conn, error) {
			attempts.Add(1)
			if refuse.Load() {
				return nil, errors.New("connection refused")
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}
	})
	refuse.Store(true)
	s.DropConnections()
	want := int32(1) // the first dial
	for _, wait := range []time.Duration{100, 200, 400, 400} {
		wait *= time.Millisecond
		testkit.Eventually(t, "backoff armed", func() bool { return clk.Pending() == 1 && attempts.Load() == want })
		clk.Advance(wait - time.Millisecond)
		if attempts.Load() != want {
			t.Fatalf("attempt before %v elapsed", wait)
		}
		clk.Advance(time.Millisecond)
		want++
		testkit.Eventually(t, fmt.Sprintf("attempt after %v", wait), func() bool { return attempts.Load() == want })
	}
	refuse.Store(false)
	clk.Await(t, "backoff armed", func(c *clock.Fake) bool { return c.Pending() == 1 })
	clk.Advance(400 * time.Millisecond)
	testkit.Eventually(t, "reconnected", func() bool { return counterValue(t, reg, "esl_reconnects_total") == 1 })
}

// TestMailboxOverflowIsBoundedAndReported: a call whose consumer does not read
// loses its own events beyond MailboxSize, counted, and is told so first.
func TestMailboxOverflowIsBoundedAndReported(t *testing.T) {
	s := startFake(t, esltest.Options{})
	reg := prometheus.NewRegistry()
	c := dial(t, s, func(cfg *esl.Config) { cfg.MailboxSize = 4; cfg.Registry = reg })
	ctx := testCtx(t)
	call, err := c.Originate(ctx, esl.OriginateRequest{Dial: "loopback/1/default"})
	if err != nil {
		t.Fatal(err)
	}
	defer call.Release()
	for i := 0; i < 5; i++ {
		if _, err := call.Execute(ctx, "playback", "silence_stream://10"); err != nil {
			t.Fatal(err) // executes still complete: their waiters do not depend on the mailbox
		}
	}
	var names []string
	for i := 0; i < 5; i++ {
		ev, err := call.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, ev.Name)
		if ev.Name == esl.EventResync && ev.Get("Events-Dropped") != "8" {
			t.Fatalf("dropped %s", ev.Get("Events-Dropped"))
		}
	}
	if got := strings.Join(names, " "); got != "CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE "+esl.EventResync {
		t.Fatalf("events %s", got)
	}
	if n := counterValue(t, reg, "esl_events_dropped_total"); n != 8 {
		t.Fatalf("dropped metric %v", n)
	}
}

var _ = fmt.Sprint
