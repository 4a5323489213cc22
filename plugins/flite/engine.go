package main

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/media/audio"
	"github.com/mrcpd/mrcpd/plugins/internal/synthkit"
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
	rate, err := synthkit.OutputRate("flite", req.SampleRate)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	j := &job{Pipe: synthkit.NewPipe[[]int16](ctx, 256), gain: gain(req.Volume), outRate: rate}
	name := e.pickVoice(req)
	go func() {
		defer j.Close()
		e.mu.Lock()
		defer e.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if !e.voices[name].synth(text, j, 1/speed(req.Rate), e.baseF0[name]*pitchFactor(req.Pitch)) && ctx.Err() == nil {
			j.Fail(asr.Errorf(asr.ErrInternal, false, "flite: synthesis failed"))
		}
	}()
	return &stream{j: j, cancel: cancel}, nil
}

// job is one utterance between flite's streaming callback and the stream's Recv.
type job struct {
	*synthkit.Pipe[[]int16]
	gain    float64
	outRate int
	rs      *audio.Resampler // created on the first chunk, when the voice's rate is known
}

func (j *job) deliver(pcm []int16, rate int) bool {
	if j.rs == nil {
		j.rs = audio.NewResampler(rate, j.outRate)
	}
	if j.gain != 1 {
		for i, v := range pcm {
			pcm[i] = int16(max(-32768, min(32767, float64(v)*j.gain)))
		}
	}
	out := j.rs.Process(nil, pcm)
	return len(out) == 0 || j.Send(out)
}

type stream struct {
	j      *job
	cancel context.CancelFunc
}

func (s *stream) Recv() (asr.SynthEvent, error) {
	pcm, err := s.j.Recv()
	if err != nil {
		return nil, err
	}
	return &asr.SynthAudio{PCM: pcm}, nil
}

func (s *stream) Close() error { s.cancel(); return nil }

// Prosody headers as factors on flite's own defaults; synthkit reads the SSML values.
var (
	speedLevels = synthkit.Levels[float64]{0.5, 0.75, 1, 1.3, 1.7}
	pitchLevels = synthkit.Levels[float64]{0.7, 0.85, 1, 1.15, 1.3}
	gainLevels  = synthkit.Levels[float64]{0.3, 0.6, 1, 1.4, 1.8}
)

func speed(v string) float64 {
	if f, ok := speedLevels.Rate(v); ok {
		return f
	}
	return max(0.3, min(3, synthkit.Relative(v)))
}

func pitchFactor(v string) float64 {
	if f, ok := pitchLevels.Pitch(v); ok {
		return f
	}
	return max(0.5, min(2, synthkit.Relative(v)))
}

func gain(v string) float64 {
	if f, ok := gainLevels.Volume(v); ok {
		return f
	}
	if n, ok := synthkit.AbsoluteVolume(v); ok && n > 3 {
		return n / 100 * 2 // an absolute SSML volume, 0-100, 50 being normal
	}
	return max(0, min(2, synthkit.Relative(v)))
}
