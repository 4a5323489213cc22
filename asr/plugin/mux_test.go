package plugin

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/mrcpd/mrcpd/asr/pluginpb"
)

// Three recognition starts just under maxStartSize queued within one send interval, each followed
// by audio, go out as messages under gRPC's 4 MB limit, in order. Before, the mux counted a start
// as 16 bytes and sent one message of 4.3 MB, which gRPC refused, ending the Streams RPC of every
// recognition on the process (issue 12).
func TestMuxSplitsBatchOverGRPCLimit(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	var order []string
	got := make(chan struct{}, 16)
	send := func(b *pb.InputBatch) error {
		mu.Lock()
		sizes = append(sizes, proto.Size(b))
		for _, in := range b.Inputs {
			kind := "start "
			if in.Input == nil {
				kind = "audio " // audio that follows an input of its stream in the same batch
			}
			order = append(order, fmt.Sprint(kind, in.StreamId))
		}
		for _, id := range b.AudioStreams {
			order = append(order, fmt.Sprint("audio ", id))
		}
		mu.Unlock()
		got <- struct{}{}
		return nil
	}
	m := newMux(send, 50*time.Millisecond, func(err error) { t.Error(err) }, nil)
	for id := uint64(1); id <= 3; id++ {
		st := &muxState{id: id}
		start := &pb.RecognizeStart{Params: map[string]string{"k": strings.Repeat("v", maxStartSize-100)}}
		m.add(st, &pb.StreamInput{StreamId: id, Input: &pb.RecognizeInput{Input: &pb.RecognizeInput_Start{Start: start}}}, false)
		m.addAudio(st, id, make([]int16, 160))
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { m.run(done) })
	defer func() { close(done); wg.Wait() }()
	deadline := time.After(10 * time.Second)
	for {
		mu.Lock()
		n := len(order)
		mu.Unlock()
		if n == 6 {
			break
		}
		select {
		case <-got:
		case <-deadline:
			t.Fatalf("sent %v", order)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, n := range sizes {
		if n >= 4<<20 {
			t.Errorf("a message of %d bytes (gRPC refuses over %d): sizes %v", n, 4<<20, sizes)
		}
	}
	// Each stream's audio follows its start; streams keep the order they were queued in.
	if want := "[start 1 audio 1 start 2 audio 2 start 3 audio 3]"; fmt.Sprint(order) != want {
		t.Errorf("sent %v, want %s", order, want)
	}
}
