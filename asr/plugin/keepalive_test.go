package plugin

import (
	"context"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/asrtest"
)

func TestMuxKeepAlive(t *testing.T) {
	for _, tc := range []struct {
		name     string
		idle     time.Duration
		lastIn   []uint64 // per stream, the batch of its last input; the mux is at batch 10
		wantSent []uint64 // stream ids that get a KeepAlive
	}{
		{"disabled", 0, []uint64{0, 5}, nil},
		{"idle streams only", 120 * time.Millisecond, []uint64{7, 8, 9, 10}, []uint64{1, 2}},
		{"short timeout rounds to one batch", 10 * time.Millisecond, []uint64{9, 10}, []uint64{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMux(nil, 30*time.Millisecond, nil, nil)
			m.setKeepAlive(tc.idle)
			var sts []*muxState
			for i := range tc.lastIn {
				st := &muxState{id: uint64(i + 1)}
				m.track(st)
				sts = append(sts, st)
			}
			m.batch = 10
			for i, st := range sts {
				st.lastIn = tc.lastIn[i]
			}
			if m.keepAlive > 0 {
				m.keepAlives()
			}
			got := map[uint64]bool{}
			for _, e := range m.open.Inputs {
				if e.Input.GetKeepAlive() == nil {
					t.Fatalf("unexpected input %v", e)
				}
				got[e.StreamId] = true
			}
			if len(got) != len(tc.wantSent) {
				t.Fatalf("keep-alives to %v, want %v", got, tc.wantSent)
			}
			for _, id := range tc.wantSent {
				if !got[id] {
					t.Fatalf("keep-alives to %v, want %v", got, tc.wantSent)
				}
			}
			// A stream just kept alive is not idle any more.
			n := len(m.open.Inputs)
			if m.keepAlive > 0 {
				m.keepAlives()
			}
			if len(m.open.Inputs) != n {
				t.Errorf("second pass sent %d more", len(m.open.Inputs)-n)
			}
		})
	}
}

// idleNoop declares an idle timeout and reports the keep-alives its streams get.
type idleNoop struct {
	asrtest.Noop
	kept chan struct{}
}

func (n *idleNoop) Info(ctx context.Context) (asr.RecognizerInfo, error) {
	info, err := n.Noop.Info(ctx)
	info.IdleTimeout = 100 * time.Millisecond
	return info, err
}

func (n *idleNoop) Recognize(ctx context.Context, req asr.RecognizeRequest) (asr.RecognitionStream, error) {
	s, err := n.Noop.Recognize(ctx, req)
	if err != nil {
		return nil, err
	}
	return keptStream{s, n.kept}, nil
}

type keptStream struct {
	asr.RecognitionStream
	kept chan struct{}
}

func (s keptStream) Send(in asr.Input) error {
	if _, ok := in.(*asr.KeepAlive); ok {
		select {
		case s.kept <- struct{}{}:
		default:
		}
	}
	return s.RecognitionStream.Send(in)
}

func TestKeepAliveCrosses(t *testing.T) {
	rec := &idleNoop{kept: make(chan struct{}, 1)}
	h := NewTestHost(t, ServeConfig{Recognizer: rec})
	s, err := h.Recognizer().Recognize(context.Background(), asr.RecognizeRequest{SampleRate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	// No audio flows, so the host must keep the stream alive within the declared 100 ms; the
	// bound here only stops a broken host from hanging the test.
	select {
	case <-rec.kept:
	case <-time.After(10 * time.Second):
		t.Fatal("no KeepAlive reached the engine")
	}
}

func TestPCMRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		pcm  []int16
	}{
		{"empty", nil},
		{"one", []int16{-1}},
		{"extremes, not a multiple of four", []int16{-32768, 32767, 0, 1, -2, 256, -256}},
		{"eight", []int16{1, 2, 3, 4, -5, -6, -7, -8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := appendPCM([]byte{9}, tc.pcm)
			if len(b) != 1+2*len(tc.pcm) || b[0] != 9 {
				t.Fatalf("appendPCM = %x", b)
			}
			for i, s := range tc.pcm {
				if b[1+2*i] != byte(s) || b[2+2*i] != byte(uint16(s)>>8) {
					t.Fatalf("sample %d encoded as %x", i, b[1+2*i:3+2*i])
				}
			}
			got := decodePCM(b[1:])
			if len(got) != len(tc.pcm) {
				t.Fatalf("decoded %v", got)
			}
			for i := range got {
				if got[i] != tc.pcm[i] {
					t.Fatalf("decoded %v, want %v", got, tc.pcm)
				}
			}
		})
	}
}

func TestBufferPoolTiers(t *testing.T) {
	var p bufferPool
	for _, tc := range []struct{ n, wantCap int }{
		{0, 256}, {1, 256}, {256, 256}, {257, 512}, {250_000, 262_144}, {4 << 20, 4 << 20}, {4<<20 + 1, 4<<20 + 1},
	} {
		b := p.Get(tc.n)
		if len(*b) != tc.n || cap(*b) != tc.wantCap {
			t.Errorf("Get(%d): len %d cap %d, want cap %d", tc.n, len(*b), cap(*b), tc.wantCap)
		}
		p.Put(b)
	}
	b := p.Get(300)
	(*b)[0] = 7
	p.Put(b)
	if c := p.Get(400); cap(*c) != 512 || len(*c) != 400 {
		t.Errorf("reused buffer len %d cap %d", len(*c), cap(*c))
	}
}
