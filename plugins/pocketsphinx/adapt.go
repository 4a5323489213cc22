package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/mrcpd/mrcpd/media/audio"
	"github.com/mrcpd/mrcpd/plugins/pocketsphinx/engine"
	"github.com/mrcpd/mrcpd/plugins/pocketsphinx/speechset"
)

const adaptUsage = `usage: pocketsphinx adapt -out FILE [-means FILE [-mixture-weights FILE] [-digit-means FILE]] [-synthesize | DIR]

Estimates an MLLR transform of the en-us model for telephone audio and writes it to -out, for the
plugin's "mllr" setting; with -means, also a MAP re-estimate of the transformed means, for the
plugin's "means" setting (which then replaces "mllr"); with -mixture-weights, the senones' mixture
weights re-estimated in the same pass, for the "mixture_weights" setting; with -digit-means, a second MAP pass on
the digit strings on top of those, for the "digit_means" setting (digit grammars only). The speech is either DIR's recordings
(every NAME.wav, 8 or 16 kHz mono 16-bit, with its words in NAME.txt) or, with -synthesize, a set
generated with espeak-ng voices and -random drawn espeak-ng speakers through a 300-3400 Hz, G.711
telephone channel (-channels: through lines drawn per utterance). Needs Debian's
sphinxtrain (bw, mllr_solve, mllr_transform, map_adapt). Other plugin settings (-setting
key=value, repeatable) apply as in the mrcpd config.
`

func adaptMain(args []string) error {
	fs := flag.NewFlagSet("adapt", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), adaptUsage); fs.PrintDefaults() }
	out := fs.String("out", "", "where to write the transform")
	means := fs.String("means", "", "where to write the MAP-adapted means (optional)")
	digitMeans := fs.String("digit-means", "", "with -means: where to write the means of the second MAP pass on digit strings (optional)")
	mixw := fs.String("mixture-weights", "", "with -means: where to write the MAP-adapted mixture weights (optional)")
	synth := fs.Bool("synthesize", false, "adapt on generated telephone speech instead of DIR")
	opt := speechset.DefaultAdaptation
	fs.IntVar(&opt.Random, "random", opt.Random, "with -synthesize: how many drawn espeak-ng speakers to add")
	fs.BoolVar(&opt.Channels, "channels", opt.Channels, "with -synthesize: each utterance through a line drawn for it (band, G.711 law, noise)")
	settings := map[string]string{}
	fs.Func("setting", "a plugin setting, key=value", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("want key=value, got %q", s)
		}
		settings[k] = v
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || (*synth == (fs.NArg() == 1)) || fs.NArg() > 1 {
		fs.Usage()
		return errors.New("pocketsphinx adapt: -out and one of -synthesize or DIR are required")
	}
	if *digitMeans != "" && *means == "" {
		return errors.New("pocketsphinx adapt: -digit-means needs -means (the second pass starts from the first)")
	}
	if *mixw != "" && *means == "" {
		return errors.New("pocketsphinx adapt: -mixture-weights needs -means (they are estimated in the same pass)")
	}
	// sphinxtrain's tools run in the scratch directory: relative paths would land there.
	for _, p := range []*string{out, means, digitMeans, mixw} {
		if *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return err
			}
			*p = abs
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	work, err := os.MkdirTemp("", "mrcpd-adapt-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	var utts []engine.AdaptUtterance
	if *synth {
		utts, err = synthesized(ctx, work, opt)
	} else {
		utts, err = recordings(fs.Arg(0))
	}
	if err != nil {
		return err
	}
	delete(settings, "mllr") // the transform adapts the model as shipped
	delete(settings, "means")
	delete(settings, "digit_means")
	delete(settings, "mixture_weights")
	cfg, err := engine.FromSettings(settings)
	if err != nil {
		return err
	}
	e, err := engine.New(cfg)
	if err != nil {
		return err
	}
	defer e.Close()
	// Written next to their destinations and renamed once all are estimated: an interrupted run
	// leaves the files of the previous one.
	tmp := func(p string) string {
		if p == "" {
			return ""
		}
		return p + ".tmp"
	}
	if *means == "" {
		err = e.Adapt(ctx, work, tmp(*out), utts)
	} else {
		err = e.AdaptMAP(ctx, work, engine.MAPFiles{MLLR: tmp(*out), Means: tmp(*means), MixtureWeights: tmp(*mixw), DigitMeans: tmp(*digitMeans)}, utts)
	}
	var written []string
	for _, p := range []string{*out, *means, *mixw, *digitMeans} {
		if p == "" {
			continue
		}
		if err != nil {
			os.Remove(tmp(p))
			continue
		}
		if err := os.Rename(tmp(p), p); err != nil {
			return err
		}
		written = append(written, p)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "pocketsphinx adapt: %d utterances -> %s\n", len(utts), strings.Join(written, ", "))
	return nil
}

func synthesized(ctx context.Context, dir string, opt speechset.AdaptationOptions) ([]engine.AdaptUtterance, error) {
	us, err := speechset.GenerateAdaptation(ctx, dir, opt)
	if err != nil {
		return nil, err
	}
	out := make([]engine.AdaptUtterance, len(us))
	for i, u := range us {
		out[i] = engine.AdaptUtterance{Text: u.Text, PCM: to16k(u.PCM, speechset.Rate)}
	}
	return out, nil
}

// recordings reads DIR/*.wav with their DIR/*.txt transcripts.
func recordings(dir string) ([]engine.AdaptUtterance, error) {
	wavs, err := filepath.Glob(filepath.Join(dir, "*.wav"))
	if err != nil {
		return nil, err
	}
	if len(wavs) == 0 {
		return nil, fmt.Errorf("pocketsphinx adapt: no .wav files in %s", dir)
	}
	var out []engine.AdaptUtterance
	for _, w := range wavs {
		txt, err := os.ReadFile(strings.TrimSuffix(w, ".wav") + ".txt")
		if err != nil {
			return nil, fmt.Errorf("pocketsphinx adapt: transcript of %s: %w", w, err)
		}
		f, err := os.Open(w)
		if err != nil {
			return nil, err
		}
		pcm, rate, err := audio.ReadWAV(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("pocketsphinx adapt: %s: %w", w, err)
		}
		if rate != 8000 && rate != 16000 {
			return nil, fmt.Errorf("pocketsphinx adapt: %s: %d Hz, want 8000 or 16000", w, rate)
		}
		out = append(out, engine.AdaptUtterance{Text: strings.TrimSpace(string(txt)), PCM: to16k(pcm, rate)})
	}
	return out, nil
}

// to16k upsamples telephone audio with the resampler mrcpd's host uses, so that the features
// match what the plugin receives in a call.
func to16k(pcm []int16, rate int) []int16 {
	if rate == 16000 {
		return pcm
	}
	return audio.NewResampler(rate, 16000).Process(nil, pcm)
}
