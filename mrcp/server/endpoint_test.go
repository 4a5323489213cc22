package server

import (
	"context"
	"github.com/mrcpd/mrcpd/media"
	"sync"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/mrcp"
)

// captureRecognizer records what the host sends: the request, every audio frame (in order) and
// the clock reading when FinalizeInput arrives; it answers Final text after FinalizeInput. With
// lateStart it sends SpeechStarted when it gets the frame after the one that armed it, as Vosk does
// with its first partial, whether or not it declares speech events.
type captureRecognizer struct {
	clock        clock.Clock
	text         string
	speechEvents bool

	mu      sync.Mutex
	req     asr.RecognizeRequest
	reqs    chan asr.RecognizeRequest
	frames  chan []int16
	finAt   chan time.Time
	emit    chan asr.Event
	recvd   chan struct{} // Recv was called (again): every earlier event has been posted
	armLate chan struct{}
}

func newCaptureRecognizer(clk clock.Clock, text string, speechEvents bool) *captureRecognizer {
	return &captureRecognizer{clock: clk, text: text, speechEvents: speechEvents,
		reqs: make(chan asr.RecognizeRequest, 4), frames: make(chan []int16, 1024), finAt: make(chan time.Time, 1),
		emit: make(chan asr.Event, 4), recvd: make(chan struct{}, 16), armLate: make(chan struct{}, 1)}
}

func (r *captureRecognizer) Info(context.Context) (asr.RecognizerInfo, error) {
	return asr.RecognizerInfo{Name: "capture", SpeechEvents: r.speechEvents, Finalize: true,
		GrammarTypes: []string{"application/srgs+xml"}, SampleRates: []int{8000}}, nil
}

func (r *captureRecognizer) Recognize(ctx context.Context, req asr.RecognizeRequest) (asr.RecognitionStream, error) {
	r.reqs <- req
	ctx, cancel := context.WithCancel(ctx)
	return &captureStream{r: r, ctx: ctx, cancel: cancel, fin: make(chan struct{}, 1)}, nil
}

type captureStream struct {
	r      *captureRecognizer
	ctx    context.Context
	cancel context.CancelFunc
	fin    chan struct{}
	sent   bool
}

func (s *captureStream) Send(in asr.Input) error {
	switch x := in.(type) {
	case *asr.Audio:
		select {
		case <-s.r.armLate:
			s.r.emit <- &asr.SpeechStarted{}
		default:
		}
		s.r.frames <- x.PCM
	case *asr.FinalizeInput:
		s.r.finAt <- s.r.clock.Now()
		s.fin <- struct{}{}
	}
	return nil
}

func (s *captureStream) Recv() (asr.Event, error) {
	s.r.recvd <- struct{}{}
	select {
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	case ev := <-s.r.emit:
		return ev, nil
	case <-s.fin:
		s.sent = true
		return &asr.Final{Alternatives: []asr.Alternative{{Text: s.r.text, Confidence: 0.9}}}, nil
	}
}

func (s *captureStream) Close() error { s.cancel(); return nil }

// speechFrame is 20 ms at 8 kHz of a vowel-like signal about 20 dB above the line noise; quiet is
// the line noise itself (about -60 dBFS).
func speechFrame(i int) []int16 {
	f := make([]int16, 160)
	for n := range f {
		// a 200 Hz buzz with a 600 Hz formant, amplitude varying per frame like syllables
		v := 6000*tri(n+i*160, 40) + 2500*tri(n+i*160, 13)
		f[n] = int16(v * float64(4+i%3) / 6)
	}
	return f
}

func quietFrame(i int) []int16 {
	f := make([]int16, 160)
	for n := range f {
		f[n] = int16((n*7+i*13)%7 - 3)
	}
	return f
}

// tri is a triangle wave of the given period in samples, -1..1.
func tri(n, period int) float64 {
	p := float64(n%period) / float64(period)
	if p < 0.5 {
		return 4*p - 1
	}
	return 3 - 4*p
}

// The host endpointer (the real media.VAD) ends speech for an engine that sends no SpeechEnded:
// Speech-Complete-Timeout after the VAD's end of speech, FinalizeInput goes to the engine and its
// Final completes the recognition with 000 success. An engine's late SpeechStarted does not hold
// the utterance open unless the engine declares speech events (and then its SpeechEnded follows).
func TestHostEndpointerFinalizes(t *testing.T) {
	for _, tc := range []struct {
		name         string
		speechEvents bool
		lateStart    bool
		header       string // Speech-Complete-Timeout on the RECOGNIZE, "" for the default
		partial      string // the engine's hypothesis when speech ends
		want         time.Duration
	}{
		// §9.4.10: a hypothesis that completes no grammar waits Speech-Incomplete-Timeout.
		{name: "incomplete-partial", partial: "um", want: 1500 * time.Millisecond},
		{name: "complete-partial", partial: "yes", want: 800 * time.Millisecond},
		{name: "engine-without-speech-events", want: 800 * time.Millisecond},
		{name: "late-speech-started-undeclared", lateStart: true, want: 800 * time.Millisecond},
		{name: "declared-but-silent-engine", speechEvents: true, want: 800 * time.Millisecond},
		{name: "client-timeout", header: "1200", want: 1200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var be *captureRecognizer
			h := newHarness(t, func(c *Config) {
				be = newCaptureRecognizer(c.Clock, "yes", tc.speechEvents)
				c.Backends.Recognizer = be
				c.NewEndpointer = media.NewDetector
			})
			ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
			cl := h.dial()
			m := mrcp.NewRequest(mrcp.MethodRecognize, 1, ids[0])
			m.Header.Set(mrcp.HeaderContentType, "text/uri-list")
			if tc.header != "" {
				m.Header.Set(mrcp.HeaderSpeechCompleteTimeout, tc.header)
			}
			m.Body = []byte("builtin:grammar/boolean\r\n")
			cl.send(m)
			if r := cl.next(); r.StatusCode != 200 || r.State != mrcp.StateInProgress {
				t.Fatalf("RECOGNIZE: %d %s", r.StatusCode, r.State)
			}
			<-be.reqs
			<-be.recvd // the engine's first Recv: from here each event adds one
			sink := h.media.receiver(t, 0)
			feed := func(f []int16) {
				sink.Audio(f)
				<-be.frames
			}
			for i := range 15 {
				feed(quietFrame(i))
			}
			for i := range 30 {
				feed(speechFrame(i))
			}
			if r := cl.next(); r.Name != mrcp.EventStartOfInput {
				t.Fatalf("got %s, want START-OF-INPUT", r.Name)
			}
			if tc.partial != "" {
				be.emit <- &asr.Partial{Text: tc.partial}
				<-be.recvd // posted before the frames below
			}
			// 300 ms of hangover, then Speech-Complete-Timeout runs.
			for i := range 15 {
				feed(quietFrame(i))
			}
			// The session handles frames in order: once the next one reached the engine, the VAD
			// has seen the last and the timer is armed at the current time.
			feed(quietFrame(15))
			end := h.clock.Now()
			if tc.lateStart {
				be.armLate <- struct{}{}
				feed(quietFrame(0))
				<-be.recvd // readLoop posted SpeechStarted before asking for the next event
			}
			h.clock.Advance(tc.want - time.Millisecond)
			feed(quietFrame(1)) // arrives, so no FinalizeInput went before it
			h.clock.Advance(time.Millisecond)
			select {
			case at := <-be.finAt:
				if d := at.Sub(end); d != tc.want {
					t.Fatalf("FinalizeInput %v after the end of speech, want %v", d, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no FinalizeInput")
			}
			r := cl.next()
			if r.Name != mrcp.EventRecognitionComplete || r.Header.Value(mrcp.HeaderCompletionCause) != "000 success" {
				t.Fatalf("got %s %s\n%s", r.Name, r.Header.Value(mrcp.HeaderCompletionCause), r.Body)
			}
		})
	}
}
