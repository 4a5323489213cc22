package main

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/media/audio"
	"github.com/mrcpd/mrcpd/plugins/internal/synthkit"
)

// Config is the plugin's settings (engines.plugins[].settings in the mrcpd config).
type Config struct {
	DataPath string // espeak-ng-data directory; "" uses the library's default
	Voice    string // default voice name, e.g. "en-us"
	Language string // default language when the request names none
	BufferMS int    // callback chunk length: shorter gives earlier first audio
}

func configFromSettings(s map[string]string) Config {
	c := Config{DataPath: s["data_path"], Voice: s["voice"], Language: s["language"], BufferMS: 20}
	if v, err := strconv.Atoi(s["buffer_ms"]); err == nil && v > 0 {
		c.BufferMS = v
	}
	if c.Language == "" {
		c.Language = "en-us"
	}
	return c
}

// Engine is an asr.Synthesizer over libespeak-ng. The library keeps global state (voice,
// parameters, the callback), so one utterance is synthesised at a time per process; the host runs
// a pool of processes for concurrency. Create one Engine per process.
type Engine struct {
	cfg    Config
	log    *slog.Logger
	mu     sync.Mutex // held for the whole of one utterance's synthesis
	rate   int        // espeak's output rate, 22050 Hz
	voices []asr.Voice
}

func NewEngine(cfg Config, log *slog.Logger) (*Engine, error) {
	rate, ok := espeakInit(cfg.DataPath, cfg.BufferMS)
	if !ok {
		return nil, asr.Errorf(asr.ErrUnavailable, false, "espeak-ng: initialisation failed (data path %q)", cfg.DataPath)
	}
	e := &Engine{cfg: cfg, log: log, rate: rate}
	// A voice is named by its language identifier ("en-us"): what espeak-ng -v and
	// espeak_SetVoiceByName accept, and what a SPEAK's Voice-Name is likely to say.
	seen := map[string]bool{}
	for _, v := range espeakVoices() {
		if v.lang == "" || seen[v.lang] {
			continue
		}
		seen[v.lang] = true
		e.voices = append(e.voices, asr.Voice{Name: v.lang, Language: bcp47(v.lang), Gender: genderName(v.gender)})
	}
	return e, nil
}

// bcp47 turns espeak's "en-us" into "en-US".
func bcp47(lang string) string {
	base, region, ok := strings.Cut(lang, "-")
	if !ok || len(region) != 2 {
		return lang
	}
	return base + "-" + strings.ToUpper(region)
}

func genderName(g int) string {
	switch g {
	case 1:
		return "male"
	case 2:
		return "female"
	}
	return "neutral"
}

func (e *Engine) Info(context.Context) (asr.SynthesizerInfo, error) {
	return asr.SynthesizerInfo{Name: "espeak-ng", Voices: e.voices, SampleRates: []int{8000, 16000, e.rate},
		SSML: true, Marks: true}, nil
}

func isSSML(req asr.SynthesizeRequest) bool {
	switch req.ContentType {
	case "application/ssml+xml", "application/synthesis+ssml":
		return true
	}
	return strings.HasPrefix(strings.TrimSpace(req.Text), "<speak")
}

func (e *Engine) Synthesize(ctx context.Context, req asr.SynthesizeRequest) (asr.SynthesisStream, error) {
	if strings.TrimSpace(req.Text) == "" {
		return nil, asr.Errorf(asr.ErrBadParameter, false, "espeak-ng: empty text")
	}
	rate, err := synthkit.OutputRate("espeak-ng", req.SampleRate)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	j := &job{Pipe: synthkit.NewPipe[chunk](ctx, 256)}
	go e.run(j, req)
	return &stream{j: j, cancel: cancel, rs: audio.NewResampler(e.rate, rate)}, nil
}

func (e *Engine) run(j *job, req asr.SynthesizeRequest) {
	defer j.Close()
	e.mu.Lock()
	defer e.mu.Unlock()
	if j.Context().Err() != nil {
		return
	}
	e.setVoice(req)
	espeakSet(paramRate, rateWPM(req.Rate))
	espeakSet(paramVolume, volume(req.Volume))
	espeakSet(paramPitch, pitch(req.Pitch))
	if !espeakSynth(req.Text, isSSML(req), j) && j.Context().Err() == nil {
		j.Fail(asr.Errorf(asr.ErrInternal, false, "espeak-ng: synthesis failed"))
	}
}

// setVoice applies Voice-Name when espeak knows it, else Speech-Language and Voice-Gender: an
// unknown name falls back rather than failing, as MRCP leaves the choice to the synthesizer.
func (e *Engine) setVoice(req asr.SynthesizeRequest) {
	name := req.Voice
	if name == "" || strings.EqualFold(name, "default") {
		name = e.cfg.Voice
	}
	if name != "" && req.Gender == "" && espeakSetVoiceByName(name) {
		return
	}
	lang := strings.ToLower(req.Language)
	if lang == "" {
		lang = e.cfg.Language
	}
	g := 0
	switch strings.ToLower(req.Gender) {
	case "male":
		g = 1
	case "female":
		g = 2
	}
	if !espeakSetVoice("", lang, g) {
		espeakSetVoice("", e.cfg.Language, g)
	}
}

// job is one utterance between the espeak callback (producer) and the stream's Recv.
type job struct {
	*synthkit.Pipe[chunk]
	samples int // produced so far, at espeak's rate
}

type chunk struct {
	pcm  []int16
	mark string
}

type markAt struct {
	ms   int
	name string
}

// deliver runs on the synthesis thread. Marks are placed at their audio position in the chunk.
func (j *job) deliver(pcm []int16, marks []markAt) bool {
	const rate = 22050
	for _, m := range marks {
		at := m.ms*rate/1000 - j.samples
		at = max(0, min(at, len(pcm)))
		if at > 0 && !j.Send(chunk{pcm: pcm[:at]}) {
			return false
		}
		j.samples += at
		pcm = pcm[at:]
		if !j.Send(chunk{mark: m.name}) {
			return false
		}
	}
	j.samples += len(pcm)
	return len(pcm) == 0 || j.Send(chunk{pcm: pcm})
}

type stream struct {
	j      *job
	cancel context.CancelFunc
	rs     *audio.Resampler
	buf    []int16
}

func (s *stream) Recv() (asr.SynthEvent, error) {
	for {
		c, err := s.j.Recv()
		if err != nil {
			return nil, err
		}
		if c.mark != "" {
			return &asr.Mark{Name: c.mark}, nil
		}
		if out := s.rs.Process(nil, c.pcm); len(out) > 0 {
			return &asr.SynthAudio{PCM: out}, nil
		}
	}
}

func (s *stream) Close() error {
	s.cancel()
	return nil
}
