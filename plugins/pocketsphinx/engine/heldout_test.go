package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/plugins/pocketsphinx/speechset"
)

// The held-out evaluation (issue 14): speechset.HeldOut's voices and phrases, which no tuning
// heard, through each of speechset.Conditions (G.711 both laws, the telephone band, pink noise,
// packet loss concealed by mrcpd's PLC), upsampled as the host does. Per condition and set:
// accuracy (right answer at the default Confidence-Threshold), substitutions (a wrong answer
// accepted), rejections (no match, or under the threshold) and out-of-grammar acceptance.
//
// CI runs a stratified subset (heldOutPerSet items of each set); MRCPD_ACCURACY_FULL=1 runs every
// item, MRCPD_ACCURACY_PER=N N items of each set, MRCPD_ACCURACY_CONDITIONS=band,snr15 only those
// channels, MRCPD_ACCURACY_SETS=digits,oog only those sets. Run the big ones with nice: see ACCURACY.md, "Held-out evaluation".

// heldOutPerSet keeps CI's share of the evaluation near 30 s of CPU.
const heldOutPerSet = 2

// heldOutFloor is what the whole subset (every condition) must reach, heldOutDigitFloor its digit
// strings (both sets); heldOutMaxSubst and heldOutMaxOOG bound wrong answers and out-of-grammar
// speech accepted, heldOutMaxDigitSubst wrong digit strings accepted of all digit strings.
// Measured on the CI subset: see ACCURACY.md, "Held-out evaluation" (floors under the measurement,
// not the targets). With the drawn adaptation speakers and the word posterior in a digit curve
// calibrated for few wrong strings (issue 14): 73.8% overall, 14 of 32 digit strings right and 2
// wrong (6%), 2.5% substitutions, 3 of 64 out-of-grammar phrases; before (the MAP means on 488
// utterances, the gap alone): 85%, 24 of 32 right and 5 wrong (15.6%, over heldOutMaxDigitSubst),
// 6.2% (over heldOutMaxSubst), 4 of 64. Fewer right digit strings pass 0.5 now: that is the price of the wrong ones.
const (
	heldOutFloor         = 0.65
	heldOutDigitFloor    = 0.35
	heldOutMaxSubst      = 0.05
	heldOutMaxDigitSubst = 0.14
	heldOutMaxOOG        = 0.10
)

// defaultThreshold is MRCP's Confidence-Threshold when a request sets none (RFC 6787 §9.4.1).
const defaultThreshold = 0.5

func TestHeldOutAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("accuracy set skipped in -short mode")
	}
	recs := record(t, selectItems(speechset.HeldOut()))
	if os.Getenv("MRCPD_ACCURACY_SETTINGS") != "" { // comparing settings: no floors
		for i, cfg := range settingsConfigs(t) {
			evaluate(t, fmt.Sprintf("HELDOUT%d", i), recs, cfg)
		}
		return
	}
	ev := evaluate(t, "HELDOUT", recs, adaptedConfig(t))
	all, oog := ev.Overall()
	if r := float64(all.Right) / float64(max(all.N, 1)); r < heldOutFloor {
		t.Errorf("held-out accuracy %.1f%% under %.0f%%", 100*r, 100*heldOutFloor)
	}
	if d := ev.Sets(speechset.Digits, speechset.DigitsN); float64(d.Right) < heldOutDigitFloor*float64(d.N) {
		t.Errorf("held-out digit strings %d/%d right, under %.0f%%", d.Right, d.N, 100*heldOutDigitFloor)
	}
	if d := ev.Sets(speechset.Digits, speechset.DigitsN); float64(d.Subst) > heldOutMaxDigitSubst*float64(d.N) {
		t.Errorf("held-out digit strings %d/%d wrong and accepted, over %.0f%%", d.Subst, d.N, 100*heldOutMaxDigitSubst)
	}
	if s := float64(all.Subst) / float64(max(all.N, 1)); s > heldOutMaxSubst {
		t.Errorf("held-out substitutions %.1f%% over %.0f%%", 100*s, 100*heldOutMaxSubst)
	}
	if o := float64(oog[0]) / float64(max(oog[1], 1)); o > heldOutMaxOOG {
		t.Errorf("held-out out-of-grammar acceptance %.1f%% over %.0f%%", 100*o, 100*heldOutMaxOOG)
	}
}

// TestTuningAccuracy is the same evaluation on speechset.TuningSet, for choosing settings and
// calibrating confidence without looking at the held-out set. Run only with MRCPD_ACCURACY_TUNE=1.
// Its drawn speakers (TUNINGn-drawn) and the speakers made like the held-out set's
// (TUNINGn-like-heldout) are reported apart: adaptation fits the drawn speakers' generator, and
// only the second figure has predicted the held-out set (ACCURACY.md, "Mixture weights").
func TestTuningAccuracy(t *testing.T) {
	if os.Getenv("MRCPD_ACCURACY_TUNE") == "" {
		t.Skip("MRCPD_ACCURACY_TUNE=1 runs the tuning set")
	}
	cfgs := settingsConfigs(t)
	recs := record(t, selectItems(speechset.TuningSet()))
	var drawn, like []speechset.Recording
	for _, r := range recs {
		if r.Voice.Drawn() {
			drawn = append(drawn, r)
		} else {
			like = append(like, r)
		}
	}
	for i, cfg := range cfgs {
		evaluate(t, fmt.Sprintf("TUNING%d-like-heldout", i), like, cfg)
		evaluate(t, fmt.Sprintf("TUNING%d-drawn", i), drawn, cfg)
	}
}

// settingsConfigs is the configurations MRCPD_ACCURACY_SETTINGS lists: "key=value;key=value",
// the plugin's settings, with the estimated MAP means unless mllr or means is set
// ("digit_means=estimated" for the estimated digit means too),
// "mllr=estimated" for the estimated transform alone, "mixture_weights=estimated" for the estimated
// mixture weights; several such lists separated by "|" are
// each evaluated on the same recordings.
func settingsConfigs(t *testing.T) []Config {
	var cfgs []Config
	for _, list := range strings.Split(os.Getenv("MRCPD_ACCURACY_SETTINGS"), "|") {
		cfg, err := FromSettings(parseSettings(list))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case cfg.MLLR == "estimated": // the transform alone, as shipped before the MAP means
			cfg.MLLR = telephoneAdaptation(t).MLLR
		case cfg.MLLR == "" && cfg.Means == "":
			a := telephoneAdaptation(t)
			cfg.Means = a.Means
			if cfg.DigitMeans == "estimated" {
				cfg.DigitMeans = a.DigitMeans
			}
			if cfg.MixtureWeights == "estimated" {
				cfg.MixtureWeights = a.MixtureWeights
			}
		}
		cfgs = append(cfgs, cfg)
	}
	return cfgs
}

// selectItems is items as the environment asks (speechset.SelectItems).
func selectItems(items []speechset.Item) []speechset.Item {
	return speechset.SelectItems(items, heldOutPerSet)
}

func heldOutConditions(t *testing.T) []speechset.Condition {
	c, err := speechset.SelectConditions(speechset.Conditions, speechset.Conditions)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func heldOutGrammars(t *testing.T) map[string]asr.Grammar {
	return map[string]asr.Grammar{
		speechset.Boolean: {ID: "heldout-boolean", URI: "builtin:grammar/boolean", Mode: "voice"},
		speechset.Menu:    fixtureMenu(t),
		speechset.Menu7:   {ID: "heldout-menu7", ContentType: "application/srgs+xml", Body: []byte(speechset.Menu7Grammar), Mode: "voice"},
	}
}

// recognizeHeldOut sends rec through channel c and the engine: the grammar is the item's set's
// (for digit strings, builtin:grammar/digits of the string's length).
func recognizeHeldOut(e *Engine, c speechset.Condition, rec speechset.Recording, grammars map[string]asr.Grammar) (asr.Alternative, bool, time.Duration, error) {
	set, n := rec.Grammar()
	g, ok := grammars[set]
	if n > 0 {
		g, ok = asr.Grammar{ID: fmt.Sprintf("heldout-digits-%d", n), URI: fmt.Sprintf("builtin:grammar/digits?length=%d", n), Mode: "voice"}, true
	}
	if !ok {
		return asr.Alternative{}, false, 0, fmt.Errorf("no grammar for %s", set)
	}
	payload, lost := c.Apply(rec)
	pcm, err := receive(c.Law, payload, lost)
	if err != nil {
		return asr.Alternative{}, false, 0, err
	}
	res, err := recognize(context.Background(), e, asr.RecognizeRequest{NBest: 1, Grammars: []asr.Grammar{g}}, upsample(pcm))
	if err != nil {
		return asr.Alternative{}, false, 0, err
	}
	a, matched := top(res.final)
	return a, matched, time.Duration(len(pcm)) * time.Second / speechset.Rate, nil
}

// receive decodes G.711 as mrcpd's media receiver does: lost packets are concealed by media.PLC,
// with the next packet when it arrived (the jitter buffer holds it).
func receive(law speechset.Law, payload []byte, lost []bool) ([]int16, error) {
	f := media.Format{Name: law.String(), ClockRate: 8000, Channels: 1}
	codec, err := media.LookupCodec(f)
	if err != nil {
		return nil, err
	}
	dec, err := codec.NewDecoder(f)
	if err != nil {
		return nil, err
	}
	plc := media.NewPLC(8000, dec)
	var out []int16
	pkt := func(i int) []byte {
		return payload[i*speechset.PacketSamples : min((i+1)*speechset.PacketSamples, len(payload))]
	}
	for i := range lost {
		if lost[i] {
			var next []byte
			if i+1 < len(lost) && !lost[i+1] {
				next = pkt(i + 1)
			}
			out = plc.Conceal(out, len(pkt(i)), next)
			continue
		}
		start := len(out)
		if out, err = dec.Decode(out, pkt(i)); err != nil {
			return nil, err
		}
		plc.Good(out[start:])
	}
	return out, nil
}

// record synthesises the items two at a time.
func record(t *testing.T, items []speechset.Item) []speechset.Recording {
	half := len(items) / 2
	var a, b []speechset.Recording
	var errA, errB error
	var wg sync.WaitGroup
	dirA, dirB := t.TempDir(), t.TempDir()
	wg.Go(func() { a, errA = speechset.Record(context.Background(), dirA, items[:half]) })
	b, errB = speechset.Record(context.Background(), dirB, items[half:])
	wg.Wait()
	if err := errors.Join(errA, errB); errors.Is(err, speechset.ErrNoSynth) {
		t.Skip(err)
	} else if err != nil {
		t.Fatal(err)
	}
	return append(a, b...)
}

// cpuTime is the CPU time this process has used: the engine runs in it (cgo), so this is the
// recognizer's cost whatever the machine's load.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
