package plugin

import (
	"context"
	"errors"

	"github.com/mrcpd/mrcpd/asr"
)

// Set is the plugins of one mrcpd configuration.
type Set struct{ hosts []*Host }

// StartSet starts every plugin and registers what each serves in reg under its name: recognizers
// behind stream healing, both behind the metrics middleware when m is not nil, with process
// restarts and stream heals counted in m. On error the plugins already started are stopped.
func StartSet(ctx context.Context, cfgs []HostConfig, reg *asr.Registry, m *asr.Metrics) (*Set, error) {
	s := &Set{}
	for _, cfg := range cfgs {
		name := cfg.Name
		if m != nil && cfg.OnRestart == nil {
			cfg.OnRestart = func() { m.Restarted(name, "process") }
		}
		h, err := Start(ctx, cfg)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.hosts = append(s.hosts, h)
		if r := h.Recognizer(); r != nil {
			r = asr.Healing(r, asr.HealOptions{OnHeal: func(asr.ErrorKind) {
				if m != nil {
					m.Restarted(name, "stream")
				}
			}})
			if m != nil {
				r = m.Recognizer(name, r)
			}
			if err := reg.AddRecognizer(name, r); err != nil {
				s.Close()
				return nil, err
			}
		}
		if syn := h.Synthesizer(); syn != nil {
			if m != nil {
				syn = m.Synthesizer(name, syn)
			}
			if err := reg.AddSynthesizer(name, syn); err != nil {
				s.Close()
				return nil, err
			}
		}
	}
	return s, nil
}

// Close stops every plugin process.
func (s *Set) Close() error {
	var errs []error
	for _, h := range s.hosts {
		errs = append(errs, h.Close())
	}
	return errors.Join(errs...)
}
