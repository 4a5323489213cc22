package asr

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// Registry holds the named backends from the configuration, in-process and plugins alike, and
// which serves a request that names none.
type Registry struct {
	mu                     sync.RWMutex
	recs                   map[string]Recognizer
	syns                   map[string]Synthesizer
	recOrder, synOrder     []string
	defaultRec, defaultSyn string
}

func NewRegistry() *Registry {
	return &Registry{recs: map[string]Recognizer{}, syns: map[string]Synthesizer{}}
}

func (r *Registry) AddRecognizer(name string, rec Recognizer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.recs[name]; dup || name == "" {
		return fmt.Errorf("asr: recognizer name %q is empty or already registered", name)
	}
	r.recs[name] = rec
	r.recOrder = append(r.recOrder, name)
	if r.defaultRec == "" {
		r.defaultRec = name
	}
	return nil
}

func (r *Registry) AddSynthesizer(name string, s Synthesizer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.syns[name]; dup || name == "" {
		return fmt.Errorf("asr: synthesizer name %q is empty or already registered", name)
	}
	r.syns[name] = s
	r.synOrder = append(r.synOrder, name)
	if r.defaultSyn == "" {
		r.defaultSyn = name
	}
	return nil
}

// SetDefaults chooses the default recognizer and synthesizer; "" leaves one unchanged.
func (r *Registry) SetDefaults(recognizer, synthesizer string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if recognizer != "" {
		if _, ok := r.recs[recognizer]; !ok {
			return fmt.Errorf("asr: default recognizer %q is not configured", recognizer)
		}
		r.defaultRec = recognizer
	}
	if synthesizer != "" {
		if _, ok := r.syns[synthesizer]; !ok {
			return fmt.Errorf("asr: default synthesizer %q is not configured", synthesizer)
		}
		r.defaultSyn = synthesizer
	}
	return nil
}

// Recognizer returns the named recognizer, or the default for "".
func (r *Registry) Recognizer(name string) (Recognizer, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if name == "" {
		name = r.defaultRec
	}
	if rec, ok := r.recs[name]; ok {
		return rec, nil
	}
	if name == "" {
		return nil, Errorf(ErrUnavailable, false, "no recognizer configured")
	}
	return nil, Errorf(ErrUnavailable, false, "no recognizer named %q", name)
}

// Synthesizer returns the named synthesizer, or the default for "".
func (r *Registry) Synthesizer(name string) (Synthesizer, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if name == "" {
		name = r.defaultSyn
	}
	if s, ok := r.syns[name]; ok {
		return s, nil
	}
	if name == "" {
		return nil, Errorf(ErrUnavailable, false, "no synthesizer configured")
	}
	return nil, Errorf(ErrUnavailable, false, "no synthesizer named %q", name)
}

// SynthesizerForVoice picks the synthesizer for a SPEAK's Voice-Name: one registered under that
// name ("flite"), else the first that lists the voice, else the default. Swapping vendors is a
// configuration or Voice-Name change, not a code change.
func (r *Registry) SynthesizerForVoice(ctx context.Context, voice string) (Synthesizer, string, error) {
	r.mu.RLock()
	order := append([]string(nil), r.synOrder...)
	syns := r.syns
	def := r.defaultSyn
	r.mu.RUnlock()
	if voice != "" && !strings.EqualFold(voice, "default") {
		for _, n := range order {
			if strings.EqualFold(n, voice) {
				return syns[n], n, nil
			}
		}
		for _, n := range order {
			info, err := syns[n].Info(ctx)
			if err != nil {
				continue
			}
			for _, v := range info.Voices {
				if strings.EqualFold(v.Name, voice) {
					return syns[n], n, nil
				}
			}
		}
	}
	s, err := r.Synthesizer(def)
	return s, def, err
}

// Names lists the registered recognizers and synthesizers in registration order.
func (r *Registry) Names() (recognizers, synthesizers []string) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]string(nil), r.recOrder...), append([]string(nil), r.synOrder...)
}
