package esl_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr/testkit"
	"github.com/mrcpd/mrcpd/esl"
	"github.com/mrcpd/mrcpd/esl/esltest"
	"github.com/percipia/eslgo"
)

// slowFirstHandler is the same consumer run against both libraries: handling
// the call's first event takes a while (here: until the rest of the call's
// events have been produced), as a real handler that does I/O would.
//
// With eslgo's delivery (a new goroutine per event and listener) the later
// events overtake the first one, so the recorded order is wrong. With our
// mailbox the consumer simply reads the next event when it is ready.
const orderEvents = 2 + 2*3 + 2 // create, answer, 3 x (execute, complete), hangup, complete

func driveCall(t *testing.T, s *esltest.Server, uuid string) {
	t.Helper()
	ctx := testCtx(t)
	c := dial(t, s, nil)
	call, err := c.Originate(ctx, esl.OriginateRequest{Dial: "loopback/1/default", UUID: uuid})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := call.Execute(ctx, "playback", "silence_stream://"+strconv.Itoa(10*(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	if err := call.Hangup(ctx, ""); err != nil {
		t.Fatal(err)
	}
	call.Release()
}

func TestEslgoListenerReordersEvents(t *testing.T) {
	s := startFake(t, esltest.Options{})
	const uuid = "order-eslgo"
	opts := eslgo.DefaultInboundOptions
	opts.Password = "ClueCon"
	opts.Logger = eslgo.NilLogger{}
	conn, err := opts.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	// eslgo's own Close races with its disconnect goroutine (go test -race
	// reports it inside eslgo), so end the connection from the server side:
	// eslgo then shuts itself down on the EOF.
	defer s.DropConnections()
	if _, err := conn.SendCommand(testCtx(t), eslCommand("event plain ALL")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seqs []uint64
	restSeen := make(chan struct{})
	var once sync.Once
	conn.RegisterEventListener(uuid, func(ev *eslgo.Event) {
		seq, _ := strconv.ParseUint(ev.GetHeader("Event-Sequence"), 10, 64)
		if ev.GetName() == esl.EventChannelCreate {
			select { // the slow part of handling the first event
			case <-restSeen:
			case <-time.After(5 * time.Second):
			}
		}
		mu.Lock()
		seqs = append(seqs, seq)
		if len(seqs) == orderEvents-1 {
			once.Do(func() { close(restSeen) })
		}
		mu.Unlock()
	})
	driveCall(t, s, uuid)
	eventuallyLen(t, &mu, &seqs, orderEvents)
	if inOrder(seqs) {
		t.Fatalf("eslgo delivered %v in order; this test expects its goroutine-per-event dispatch to reorder", seqs)
	}
	t.Logf("eslgo delivery order: %v", seqs)
}

func TestMailboxKeepsOrderWithSlowConsumer(t *testing.T) {
	s := startFake(t, esltest.Options{})
	const uuid = "order-mailbox"
	c := dial(t, s, nil)
	call := c.Track(uuid)
	defer call.Release()
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		driveCall(t, s, uuid)
	}()
	var seqs []uint64
	ctx := testCtx(t)
	for len(seqs) < orderEvents {
		ev, err := call.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Name == esl.EventChannelCreate {
			<-produced // the same slow first handler
		}
		seqs = append(seqs, ev.Seq)
	}
	if !inOrder(seqs) {
		t.Fatalf("mailbox delivered %v out of order", seqs)
	}
}

func inOrder(s []uint64) bool {
	for i := 1; i < len(s); i++ {
		if s[i] <= s[i-1] {
			return false
		}
	}
	return true
}

func eventuallyLen(t *testing.T, mu *sync.Mutex, s *[]uint64, n int) {
	testkit.Eventually(t, "all events delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(*s) >= n
	})
}

type eslCommand string

func (c eslCommand) BuildMessage() string { return string(c) }

var _ = context.Background
