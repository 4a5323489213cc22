package engine

import (
	"context"
	"io"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/mrcpd/mrcpd/asr"
)

// partialEvery spaces partial hypotheses: ps_get_hyp walks the search, so not on every batch.
const partialEvery = 250 * time.Millisecond

// stream is one recognition. A worker goroutine owns the decoder; Send and Recv talk to it over
// channels so that a slow decoder applies back-pressure instead of buffering without bound.
type stream struct {
	in     chan asr.Input
	out    chan asr.Event
	done   chan struct{} // closed when the worker has returned its decoder
	cancel context.CancelFunc

	mu  sync.Mutex
	err error // terminal error for Recv after out is drained: io.EOF, ctx.Err() or *asr.Error
}

func startStream(ctx context.Context, e *Engine, req asr.RecognizeRequest, p *plan) *stream {
	ctx, cancel := context.WithCancel(ctx)
	s := &stream{
		in:     make(chan asr.Input, 8),
		out:    make(chan asr.Event, 16),
		done:   make(chan struct{}),
		cancel: cancel,
	}
	w := &worker{e: e, req: req, plan: p, s: s}
	go w.run(ctx)
	return s
}

// Send implements asr.RecognitionStream.
func (s *stream) Send(in asr.Input) error {
	select {
	case <-s.done:
		return s.terminal()
	default:
	}
	if a, ok := in.(*asr.Audio); ok {
		// The worker reads it after Send returns, when the caller may have reused the samples.
		in = &asr.Audio{PCM: slices.Clone(a.PCM)}
	}
	select {
	case s.in <- in:
		return nil
	case <-s.done:
		return s.terminal()
	}
}

// Recv implements asr.RecognitionStream.
func (s *stream) Recv() (asr.Event, error) {
	ev, ok := <-s.out
	if !ok {
		return nil, s.terminal()
	}
	return ev, nil
}

// Close implements asr.RecognitionStream: it cancels the worker and waits until the decoder is
// back in the pool.
func (s *stream) Close() error {
	s.cancel()
	<-s.done
	return nil
}

func (s *stream) terminal() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		return io.ErrClosedPipe
	}
	return s.err
}

// worker is the goroutine state of one stream.
type worker struct {
	e    *Engine
	req  asr.RecognizeRequest
	plan *plan
	s    *stream

	d        *decoder
	fe       *frontEnd
	audio    []int16 // the utterance so far, for the phone loop and further grammars
	inSpeech bool
	speechAt time.Duration // first SpeechStarted
	lastPart string
	partAt   int // len(audio) at the last partial
}

func (w *worker) run(ctx context.Context) {
	err := w.recognize(ctx)
	if err == nil {
		err = io.EOF
	} else if ctx.Err() != nil {
		err = ctx.Err()
	}
	w.s.mu.Lock()
	w.s.err = err
	w.s.mu.Unlock()
	close(w.s.out)
	close(w.s.done)
}

func (w *worker) emit(ctx context.Context, ev asr.Event) error {
	select {
	case w.s.out <- ev:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *worker) recognize(ctx context.Context) (err error) {
	// Ready goes out before a decoder is free, so that a stream waiting for the pool or for a
	// decoder to load is not taken for a plugin that stopped answering (asr/plugin's ready
	// timeout): its audio queues meanwhile, and mrcpd's own timers still bound the recognition.
	if err := w.emit(ctx, &asr.Ready{Params: w.params(), Skipped: w.plan.skipped}); err != nil {
		return err
	}
	search := searchDictation
	if !w.plan.dictation {
		search = w.plan.grammars[0].search
	}
	d, err := w.e.pool.get(ctx, w.plan.kind, search)
	if err != nil {
		return err
	}
	w.d = d
	defer func() { w.fe.free() }()
	started := false
	defer func() {
		if started && err != nil {
			// Leave the decoder between utterances; a failure here means it is unusable.
			if d.end() != nil {
				w.e.pool.put(d, false)
				return
			}
		}
		w.e.pool.put(d, err == nil || ctx.Err() != nil)
	}()
	if err := w.load(w.primary()); err != nil {
		return err
	}
	if err := d.start(); err != nil {
		return asr.Errorf(asr.ErrInternal, true, "%v", err)
	}
	started = true
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case in := <-w.s.in:
			switch in := in.(type) {
			case *asr.Audio:
				if err := w.audioIn(ctx, in.PCM); err != nil {
					return err
				}
			case *asr.FinalizeInput:
				started = false
				return w.finish(ctx)
			}
			// DTMF grammars are matched by the host; vendor parameters and keep-alives need nothing.
		}
	}
}

// primary is the search decoded while audio streams.
func (w *worker) primary() *compiled {
	if w.plan.dictation {
		return nil
	}
	return w.plan.grammars[0]
}

// load activates a grammar (nil: dictation) on the decoder, adding its words first.
func (w *worker) load(c *compiled) error {
	if c == nil {
		if err := w.d.setLM(searchDictation, w.e.cfg.LanguageModel); err != nil {
			return asr.Errorf(asr.ErrInternal, false, "%v", err)
		}
		return nil
	}
	if err := w.d.addWords(w.plan.prons); err != nil {
		return asr.Errorf(asr.ErrBadGrammar, false, "grammar %s: %v", c.id, err)
	}
	params := map[string]float64{"-wip": c.wip}
	for k, v := range w.e.beams {
		params[k] = v
	}
	if err := w.d.setJSGF(c.search, c.jsgf, params); err != nil {
		return asr.Errorf(asr.ErrBadGrammar, false, "grammar %s: %v", c.id, err)
	}
	return nil
}

func (w *worker) params() map[string]string {
	p := map[string]string{"cmninit": w.e.cfg.CMNInit, "samprate": "16000"}
	if c := w.primary(); c != nil {
		p["wip"] = formatFloat(c.wip)
	} else {
		p["wip"] = formatFloat(w.e.cfg.WIP)
	}
	return p
}

func (w *worker) audioIn(ctx context.Context, pcm []int16) error {
	if w.fe == nil {
		fe, err := newFrontEnd(w.e.cfg)
		if err != nil {
			return asr.Errorf(asr.ErrInternal, true, "%v", err)
		}
		w.fe = fe
	}
	return w.decode(ctx, w.fe.process(pcm))
}

// decode passes front-end audio to the decoder and reports what it says of it.
func (w *worker) decode(ctx context.Context, pcm []int16) error {
	w.audio = append(w.audio, pcm...)
	if err := w.d.process(pcm, false); err != nil {
		return asr.Errorf(asr.ErrInternal, true, "%v", err)
	}
	if sp := w.d.inSpeech(); sp != w.inSpeech {
		w.inSpeech = sp
		at := samplesDur(len(w.audio))
		var ev asr.Event
		if sp {
			if w.speechAt == 0 {
				w.speechAt = max(0, at-speechStartLag-vadPrespeech)
			}
			ev = &asr.SpeechStarted{At: at - speechStartLag}
		} else {
			ev = &asr.SpeechEnded{At: at - speechEndLag}
		}
		if err := w.emit(ctx, ev); err != nil {
			return err
		}
	}
	if w.req.Interim && samplesDur(len(w.audio)-w.partAt) >= partialEvery {
		w.partAt = len(w.audio)
		if h, _ := w.d.hyp(); h != "" && h != w.lastPart {
			w.lastPart = h
			return w.emit(ctx, &asr.Partial{Text: h})
		}
	}
	return nil
}

// The engine's voice-activity detector decides some frames after the fact (-vad_startspeech 10,
// -vad_postspeech 50 frames); events carry the time the change happened.
const (
	speechStartLag = 10 * frameDur
	speechEndLag   = 50 * frameDur
	vadPrespeech   = 20 * frameDur // frames kept before speech (-vad_prespeech)
)

func samplesDur(n int) time.Duration { return time.Duration(n) * time.Second / 16000 }

func (w *worker) finish(ctx context.Context) error {
	if rest := w.fe.flush(); len(rest) > 0 {
		if err := w.decode(ctx, rest); err != nil {
			return err
		}
	}
	if err := w.d.end(); err != nil {
		return asr.Errorf(asr.ErrInternal, true, "%v", err)
	}
	// The phone loop and further grammars decode with the mean the rescans converged on, so
	// that their scores compare with the primary grammar's; the next caller starts afresh.
	first := w.d.cmninit
	defer func() { w.d.cmninit = first }()
	if err := w.rescan(); err != nil {
		return err
	}
	alts, err := w.results()
	if err != nil {
		return err
	}
	if err := w.emit(ctx, &asr.Final{Alternatives: alts}); err != nil {
		return err
	}
	return w.emit(ctx, &asr.Usage{Audio: samplesDur(len(w.audio))})
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// rescan decodes a grammar utterance once more, from the cepstral mean RescanPasses decodes
// would have converged to. Live CMN starts from a fixed estimate and needs more than a short
// answer to converge -- the further off on narrowband audio, whose mean no fixed estimate fits
// across voices -- so the live pass decodes the first words against the wrong mean. The first
// version decoded the utterance RescanPasses more times, each from the mean the previous pass
// ended on: ~0.1 x real time after the caller stopped speaking. But a pass does not change the
// frames live CMN sums, only the starting mean, which cmn_live weighs as cmnWindow frames: after
// k passes over an utterance of n frames with mean x the mean is x + a^k (init - x), a =
// cmnWindow/(cmnWindow+n). The front end alone gives x and n in ~1 ms, and one search from the
// k-th mean gives the k-pass result (tuning set: k 4-5 gave 14-15/32 digit strings, k = infinity,
// the plain utterance mean, 2/24 fewer on the test set than k = 4).
func (w *worker) rescan() error {
	// Dictation is rescanned only under the transform: a second language-model search doubles
	// its cost (~0.2 x real time), worth it there (test set WER 57-66% -> 26%), not without.
	if w.e.cfg.RescanPasses <= 0 || w.plan.dictation && !w.e.cfg.adapted() {
		return nil
	}
	x, n := w.d.cepMean(w.audio)
	if len(x) == 0 {
		return nil // no speech frame: the live pass's result stands
	}
	a := math.Pow(cmnWindow/(cmnWindow+float64(n)), float64(w.e.cfg.RescanPasses))
	if w.e.cfg.adapted() {
		// The transform was estimated on features normalised by their own utterance's mean
		// (bw -cmn current): decode from that mean too. Test set, digits: 22-23/24 from the
		// utterance mean and the same across leading and trailing silence of 0-1.5 s, vs 21-23/24
		// from the 4-pass mean, which moves with the silence around the words.
		a = 0
	}
	mean := make([]float32, len(x))
	for i := range x {
		var init float32 // components cmninit leaves out start at 0 (mrcpd_ps_set_cmn)
		if i < len(w.d.cmninit) {
			init = w.d.cmninit[i]
		}
		mean[i] = x[i] + float32(a)*(init-x[i])
	}
	w.d.cmninit = mean
	return w.decodeBuffered(w.primary())
}

// cmnWindow is how many frames sphinxbase's live CMN weighs its initial mean as (CMN_WIN).
const cmnWindow = 500.0
