package plugin

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc/mem"

	"github.com/mrcpd/mrcpd/asr"
	pb "github.com/mrcpd/mrcpd/asr/pluginpb"
)

// TestAudioSurvivesBufferReuse checks that every stream's engine hears exactly the samples sent
// while both ends reuse their buffers: the host's caller overwrites its frame after each Send,
// and the plugin decodes every batch into the same arena. Among the streams, one's engine is
// still starting while its audio arrives (queued), and one blocks in its first Send so that the
// watchdog hands the batch to another dispatcher; their audio must not be the next batch's.
func TestAudioSurvivesBufferReuse(t *testing.T) {
	eng := &tapeEngine{ready: make(chan struct{}), release: make(chan struct{}), blocked: make(chan struct{}),
		marks: make(chan string, 16), heard: map[string][]int16{}}
	h := NewTestHost(t, ServeConfig{Recognizer: eng})
	names := []string{"a", "b", "starting", "stuck"}
	streams := map[string]asr.RecognitionStream{}
	for _, n := range names {
		s, err := h.Recognizer().Recognize(context.Background(), asr.RecognizeRequest{SampleRate: 8000, ChannelID: n})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		streams[n] = s
	}
	want := map[string][]int16{}
	frame := make([]int16, 160)
	in := &asr.Audio{PCM: frame}
	const rounds = 12
	for r := range rounds {
		for k, n := range names {
			for i := range frame {
				frame[i] = int16(r*1000 + k*160 + i)
			}
			want[n] = append(want[n], frame...)
			if err := streams[n].Send(in); err != nil {
				t.Fatal(err)
			}
			clear(frame)
		}
		// A DTMF crosses at once; waiting until the running engines have it makes every round a
		// batch of its own, so the plugin's arena is overwritten each round.
		for _, n := range names[:2] {
			if err := streams[n].Send(&asr.DTMF{Digit: '1'}); err != nil {
				t.Fatal(err)
			}
		}
		<-eng.marks
		<-eng.marks
		switch r {
		case 0:
			<-eng.blocked
		case rounds / 2:
			close(eng.release)
		}
	}
	close(eng.ready)
	for _, n := range names {
		if err := streams[n].Send(&asr.FinalizeInput{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range names {
		for {
			_, err := streams[n].Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", n, err)
			}
		}
		if got := eng.samples(n); !slices.Equal(got, want[n]) {
			t.Errorf("stream %s: the engine heard %d samples unlike the %d sent", n, len(got), len(want[n]))
		}
	}
}

// tapeEngine records the samples of each stream, named by its ChannelID, copying them as an
// engine must. The stream "starting" is created only once ready is closed; "stuck" blocks in its
// first Send until release is closed. Every DTMF is reported on marks.
type tapeEngine struct {
	ready, release, blocked chan struct{}
	marks                   chan string

	mu    sync.Mutex
	heard map[string][]int16
}

func (e *tapeEngine) Info(context.Context) (asr.RecognizerInfo, error) {
	return asr.RecognizerInfo{Name: "tape", SampleRates: []int{8000}}, nil
}

func (e *tapeEngine) Recognize(ctx context.Context, req asr.RecognizeRequest) (asr.RecognitionStream, error) {
	if req.ChannelID == "starting" {
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	s := &tapeStream{e: e, name: req.ChannelID, events: make(chan asr.Event, 2)}
	s.events <- &asr.Ready{}
	return s, nil
}

func (e *tapeEngine) samples(name string) []int16 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.heard[name])
}

type tapeStream struct {
	e       *tapeEngine
	name    string
	events  chan asr.Event
	blocked bool
}

func (s *tapeStream) Send(in asr.Input) error {
	switch x := in.(type) {
	case *asr.Audio:
		if s.name == "stuck" && !s.blocked {
			s.blocked = true
			close(s.e.blocked)
			<-s.e.release
		}
		s.e.mu.Lock()
		s.e.heard[s.name] = append(s.e.heard[s.name], x.PCM...)
		s.e.mu.Unlock()
	case *asr.DTMF:
		s.e.marks <- s.name
	case *asr.FinalizeInput:
		s.events <- &asr.Final{}
		close(s.events)
	}
	return nil
}

func (s *tapeStream) Recv() (asr.Event, error) {
	ev, ok := <-s.events
	if !ok {
		return nil, io.EOF
	}
	return ev, nil
}

func (s *tapeStream) Close() error { return nil }

// TestCodecDecodesAudioFromPieces follows a batch through the plugin's codec and flatten as gRPC
// hands it over, in HTTP/2-frame-sized pieces whose boundaries split samples: every stream must
// get its own samples, and the received buffers must stay alive until they are decoded, then be
// freed.
func TestCodecDecodesAudioFromPieces(t *testing.T) {
	c := newCodec()
	want := map[uint64][]int16{}
	var batch pb.InputBatch
	for i, id := range []uint64{1, 2, 1} {
		seg := make([]int16, 700)
		for j := range seg {
			seg[j] = int16(i*1000 + j - 350)
		}
		want[id] = append(want[id], seg...)
		batch.Audio = appendPCM(batch.Audio, seg)
		batch.AudioStreams = append(batch.AudioStreams, id)
		batch.AudioLengths = append(batch.AudioLengths, uint32(2*len(seg)))
	}
	out, err := c.Marshal(&batch)
	if err != nil {
		t.Fatal(err)
	}
	raw := out.Materialize()
	out.Free()
	pool := &countingPool{}
	var data mem.BufferSlice
	for rest := raw; len(rest) > 0; {
		k := min(1001, len(rest)) // odd: samples straddle pieces
		b := make([]byte, k, 4096)
		copy(b, rest)
		data, rest = append(data, mem.NewBuffer(&b, pool)), rest[k:]
	}
	var got pb.InputBatch
	if err := c.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	data.Free() // as gRPC does once Unmarshal returns
	if n := pool.freed(); n != 0 {
		t.Fatalf("%d received buffers freed before their audio was decoded", n)
	}
	st1, st2 := &pluginStream{cancel: func() {}}, &pluginStream{cancel: func() {}}
	p := &pluginSession{codec: c, streams: map[uint64]*pluginStream{1: st1, 2: st2}}
	heard := map[*pluginStream][]int16{}
	for _, d := range p.flatten(&got, nil, &arena{}) {
		heard[d.st] = append(heard[d.st], d.in.(*asr.Audio).PCM...)
	}
	if !slices.Equal(heard[st1], want[1]) || !slices.Equal(heard[st2], want[2]) {
		t.Errorf("streams heard %d and %d samples unlike the %d and %d sent", len(heard[st1]), len(heard[st2]), len(want[1]), len(want[2]))
	}
	if n := pool.freed(); n != len(data) {
		t.Errorf("%d of %d received buffers freed after decoding", n, len(data))
	}
}

// countingPool is a mem.BufferPool that counts the buffers given back.
type countingPool struct {
	mu   sync.Mutex
	puts int
}

func (p *countingPool) Get(n int) *[]byte {
	b := make([]byte, n)
	return &b
}

func (p *countingPool) Put(*[]byte) {
	p.mu.Lock()
	p.puts++
	p.mu.Unlock()
}

func (p *countingPool) freed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.puts
}
