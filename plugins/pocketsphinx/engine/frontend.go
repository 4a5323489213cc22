package engine

// frontEnd is what a stream's audio goes through before the decoder, and the adaptation's too, so
// that the means are estimated on the features the decoder will see: noise suppression (on a
// noisy line), then the band extension.
type frontEnd struct {
	dn  *denoiser
	bwe *bandExtender
}

func newFrontEnd(cfg Config) (*frontEnd, error) {
	dn, err := newDenoiser(cfg.NoiseSuppression)
	if err != nil {
		return nil, err
	}
	bwe := newBandExtender(cfg.BandExtension)
	bwe.fric = cfg.FricativeGain
	return &frontEnd{dn: dn, bwe: bwe}, nil
}

// process returns the audio pcm completes; the denoiser may hold back part of a frame.
func (f *frontEnd) process(pcm []int16) []int16 { return f.bwe.process(f.dn.process(pcm)) }

// flush returns what is held back at the end of an utterance; nil has nothing.
func (f *frontEnd) flush() []int16 {
	if f == nil {
		return nil
	}
	return f.bwe.process(f.dn.flush())
}

// denoised reports that the noise suppressor changed some of the audio.
func (f *frontEnd) denoised() bool { return f != nil && f.dn.denoised() }

func (f *frontEnd) free() {
	if f != nil {
		f.dn.free()
	}
}

// frontEndAudio is a whole utterance as a stream's decoder hears it.
func (e *Engine) frontEndAudio(pcm []int16) ([]int16, error) {
	fe, err := newFrontEnd(e.cfg)
	if err != nil {
		return nil, err
	}
	defer fe.free()
	return append(fe.process(pcm), fe.flush()...), nil
}
