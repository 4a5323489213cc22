package main

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/media"
)

// voices are the CMU US voices Debian ships with libflite; all speak en-US.
var voiceGenders = map[string]string{"slt": "female", "kal": "male", "awb": "male", "rms": "male"}

// Engine is an asr.Synthesizer over libflite. Flite's voices carry mutable features, so one
// utterance is synthesised at a time per process; the host's pool gives concurrency.
type Engine struct {
	log     *slog.Logger
	def     string
	mu      sync.Mutex // one utterance at a time
	voices  map[string]voice
	baseF0  map[string]float64
	infoVcs []asr.Voice
}

// NewEngine loads the voices; defaultVoice is one of slt, kal, awb, rms.
func NewEngine(defaultVoice string, log *slog.Logger) (*Engine, error) {
	fliteInit()
	e := &Engine{log: log, def: defaultVoice, voices: map[string]voice{}, baseF0: map[string]float64{}}
	for _, name := range []string{"slt", "kal", "awb", "rms"} {
		v, ok := loadVoice(name)
		if !ok {
			continue
		}
		e.voices[name] = v
		e.baseF0[name] = v.defaultF0()
		e.infoVcs = append(e.infoVcs, asr.Voice{Name: name, Gender: voiceGenders[name], Language: "en-US"})
	}
	if _, ok := e.voices[e.def]; !ok {
		return nil, asr.Errorf(asr.ErrBadParameter, false, "flite: default voice %q is not available", defaultVoice)
	}
	return e, nil
}

func (e *Engine) Info(context.Context) (asr.SynthesizerInfo, error) {
	return asr.SynthesizerInfo{Name: "flite", Voices: e.infoVcs, SampleRates: []int{8000, 16000}}, nil
}

// pickVoice maps Voice-Name ("slt", "cmu_us_slt", "flite/slt") and Voice-Gender to a voice.
func (e *Engine) pickVoice(req asr.SynthesizeRequest) string {
	name := strings.ToLower(req.Voice)
	name = strings.TrimPrefix(strings.TrimPrefix(name, "flite/"), "cmu_us_")
	if _, ok := e.voices[name]; ok {
		return name
	}
	if g := strings.ToLower(req.Gender); g != "" && voiceGenders[e.def] != g {
		for _, n := range []string{"slt", "kal", "awb", "rms"} {
			if _, ok := e.voices[n]; ok && voiceGenders[n] == g {
				return n
			}
		}
	}
	return e.def
}

var tags = regexp.MustCompile(`<[^>]*>`)

// plainText reduces SSML to its text: flite has no SSML support, and speaking the words beats
// failing the request.
func plainText(req asr.SynthesizeRequest) string {
	t := req.Text
	if strings.Contains(req.ContentType, "ssml") || strings.HasPrefix(strings.TrimSpace(t), "<") {
		t = tags.ReplaceAllString(t, " ")
		t = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&apos;", "'").Replace(t)
	}
	return strings.Join(strings.Fields(t), " ")
}

func (e *Engine) Synthesize(ctx context.Context, req asr.SynthesizeRequest) (asr.SynthesisStream, error) {
	text := plainText(req)
	if text == "" {
		return nil, asr.Errorf(asr.ErrBadParameter, false, "flite: empty text")
	}
	rate := req.SampleRate
	if rate <= 0 {
		rate = 8000
	}
	if rate > 48000 {
		return nil, asr.Errorf(asr.ErrBadParameter, false, "flite: sample rate %d not supported", rate)
	}
	ctx, cancel := context.WithCancel(ctx)
	j := &job{ctx: ctx, out: make(chan []int16, 256), gain: gain(req.Volume), outRate: rate}
	name := e.pickVoice(req)
	go func() {
		defer close(j.out)
		e.mu.Lock()
		defer e.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if !e.voices[name].synth(text, j, 1/speed(req.Rate), e.baseF0[name]*pitchFactor(req.Pitch)) && ctx.Err() == nil {
			j.err = asr.Errorf(asr.ErrInternal, false, "flite: synthesis failed")
		}
	}()
	return &stream{j: j, cancel: cancel}, nil
}

// job is one utterance between flite's streaming callback and the stream's Recv.
type job struct {
	ctx     context.Context
	out     chan []int16
	err     error
	gain    float64
	outRate int
	rs      *media.Resampler // created on the first chunk, when the voice's rate is known
}

func (j *job) deliver(pcm []int16, rate int) bool {
	if j.rs == nil {
		j.rs = media.NewResampler(rate, j.outRate)
	}
	if j.gain != 1 {
		for i, v := range pcm {
			pcm[i] = int16(max(-32768, min(32767, float64(v)*j.gain)))
		}
	}
	out := j.rs.Process(nil, pcm)
	if len(out) == 0 {
		return true
	}
	select {
	case j.out <- out:
		return true
	case <-j.ctx.Done():
		return false
	}
}

type stream struct {
	j      *job
	cancel context.CancelFunc
}

func (s *stream) Recv() (asr.SynthEvent, error) {
	select {
	case pcm, ok := <-s.j.out:
		if !ok {
			if s.j.err != nil {
				return nil, s.j.err
			}
			if err := s.j.ctx.Err(); err != nil {
				return nil, err
			}
			return nil, io.EOF
		}
		return &asr.SynthAudio{PCM: pcm}, nil
	case <-s.j.ctx.Done():
		return nil, s.j.ctx.Err()
	}
}

func (s *stream) Close() error { s.cancel(); return nil }

// Prosody headers as factors on flite's own defaults.
func speed(v string) float64 {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "x-slow":
		return 0.5
	case "slow":
		return 0.75
	case "fast":
		return 1.3
	case "x-fast":
		return 1.7
	}
	return max(0.3, min(3, relative(v)))
}

func pitchFactor(v string) float64 {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "x-low":
		return 0.7
	case "low":
		return 0.85
	case "high":
		return 1.15
	case "x-high":
		return 1.3
	}
	return max(0.5, min(2, relative(v)))
}

func gain(v string) float64 {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "silent":
		return 0
	case "x-soft":
		return 0.3
	case "soft":
		return 0.6
	case "loud":
		return 1.4
	case "x-loud":
		return 1.8
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && !strings.ContainsAny(v, "+-") && n > 3 {
		return n / 100 * 2 // an absolute SSML volume, 0-100, 50 being normal
	}
	return max(0, min(2, relative(v)))
}

// relative parses "1.5", "+20%" or "-10%" as a factor; anything else is 1.
func relative(v string) float64 {
	v = strings.TrimSpace(v)
	if p, ok := strings.CutSuffix(v, "%"); ok {
		if n, err := strconv.ParseFloat(p, 64); err == nil {
			return 1 + n/100
		}
		return 1
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n > 0 {
		return n
	}
	return 1
}
