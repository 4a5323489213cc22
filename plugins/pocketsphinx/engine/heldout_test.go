package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
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
// channels. Run the big ones with nice: see README.md, "Held-out evaluation".

// heldOutPerSet keeps CI's share of the evaluation near 30 s of CPU.
const heldOutPerSet = 2

// heldOutFloor is what the whole subset (every condition) must reach; heldOutMaxSubst and
// heldOutMaxOOG bound wrong answers and out-of-grammar speech accepted. Measured on the CI subset:
// see README.md, "Held-out evaluation" (floors under the measurement, not the targets).
const (
	heldOutFloor    = 0.55
	heldOutMaxSubst = 0.15
	heldOutMaxOOG   = 0.35
)

// defaultThreshold is MRCP's Confidence-Threshold when a request sets none (RFC 6787 §9.4.1).
const defaultThreshold = 0.5

type tally struct{ n, right, subst, reject int }

func (t tally) String() string {
	if t.n == 0 {
		return "-"
	}
	p := func(k int) float64 { return 100 * float64(k) / float64(t.n) }
	return fmt.Sprintf("n=%-3d acc %5.1f%% sub %4.1f%% rej %5.1f%%", t.n, p(t.right), p(t.subst), p(t.reject))
}

func TestHeldOutAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("accuracy set skipped in -short mode")
	}
	items := speechset.HeldOut()
	if os.Getenv("MRCPD_ACCURACY_FULL") == "" {
		per := heldOutPerSet
		if n, err := strconv.Atoi(os.Getenv("MRCPD_ACCURACY_PER")); err == nil && n > 0 {
			per = n
		}
		items = speechset.Stratified(items, per)
	}
	conds := heldOutConditions(t)
	recs := record(t, items)
	e := newTestEngine(t, adaptedConfig(t))
	grammars := heldOutGrammars(t)

	tallies := map[string]*tally{} // condition/set
	oog := map[string][2]int{}     // condition: accepted, n
	var audio time.Duration
	var mu sync.Mutex
	var errs []error
	cpu0 := cpuTime()
	for _, c := range conds {
		work := make(chan speechset.Recording)
		var wg sync.WaitGroup
		for range 2 { // the two cores; CPU time is what counts, not wall time
			wg.Go(func() {
				for rec := range work {
					a, ok, d, err := recognizeHeldOut(e, c, rec, grammars)
					mu.Lock()
					if err != nil {
						errs = append(errs, fmt.Errorf("%s %s %s %q: %w", c.Name, rec.Set, rec.Voice, rec.Text, err))
						mu.Unlock()
						continue
					}
					audio += d
					accepted := ok && a.Confidence >= defaultThreshold
					if rec.Set == speechset.OOG {
						o := oog[c.Name]
						o[1]++
						if accepted {
							o[0]++
							t.Logf("%s oog %s %q against %s accepted as %q (%.2f)", c.Name, rec.Voice, rec.Text, rec.Against, a.Text, a.Confidence)
						}
						oog[c.Name] = o
					} else {
						k := c.Name + "/" + rec.Set
						if tallies[k] == nil {
							tallies[k] = &tally{}
						}
						tl := tallies[k]
						tl.n++
						switch {
						case !accepted:
							tl.reject++
						case a.Interpretation == rec.Want() || a.Text == rec.Want():
							tl.right++
						default:
							tl.subst++
						}
						if !accepted || (a.Interpretation != rec.Want() && a.Text != rec.Want()) {
							t.Logf("%s %s %s: want %q (%q), got %q (%q, %.2f)", c.Name, rec.Set, rec.Voice, rec.Text, rec.Want(), a.Text, a.Interpretation, a.Confidence)
						}
					}
					mu.Unlock()
				}
			})
		}
		for _, r := range recs {
			work <- r
		}
		close(work)
		wg.Wait()
		if len(errs) > 0 {
			t.Fatal(errors.Join(errs...))
		}
	}
	cpu := cpuTime() - cpu0
	report(t, conds, tallies, oog)
	t.Logf("HELDOUT %d recognitions, %v of audio, %v CPU: %.3f x real time (CPU time of the test process)",
		len(recs)*len(conds), audio.Round(time.Second), cpu.Round(time.Millisecond), cpu.Seconds()/audio.Seconds())

	var all tally
	var acc, n int
	for _, tl := range tallies {
		all.n += tl.n
		all.right += tl.right
		all.subst += tl.subst
	}
	for _, o := range oog {
		acc += o[0]
		n += o[1]
	}
	if r := float64(all.right) / float64(max(all.n, 1)); r < heldOutFloor {
		t.Errorf("held-out accuracy %.1f%% under %.0f%%", 100*r, 100*heldOutFloor)
	}
	if s := float64(all.subst) / float64(max(all.n, 1)); s > heldOutMaxSubst {
		t.Errorf("held-out substitutions %.1f%% over %.0f%%", 100*s, 100*heldOutMaxSubst)
	}
	if o := float64(acc) / float64(max(n, 1)); o > heldOutMaxOOG {
		t.Errorf("held-out out-of-grammar acceptance %.1f%% over %.0f%%", 100*o, 100*heldOutMaxOOG)
	}
}

func heldOutConditions(t *testing.T) []speechset.Condition {
	want := os.Getenv("MRCPD_ACCURACY_CONDITIONS")
	if want == "" {
		return speechset.Conditions
	}
	var out []speechset.Condition
	for _, c := range speechset.Conditions {
		for _, w := range strings.Split(want, ",") {
			if c.Name == w {
				out = append(out, c)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("MRCPD_ACCURACY_CONDITIONS=%s names none of the conditions", want)
	}
	return out
}

// report logs one line per condition and set, and the sets over every condition.
func report(t *testing.T, conds []speechset.Condition, tallies map[string]*tally, oog map[string][2]int) {
	sets := []string{speechset.Digits, speechset.DigitsN, speechset.Boolean, speechset.Menu, speechset.Menu7}
	total := map[string]*tally{}
	for _, c := range conds {
		var row []string
		for _, s := range sets {
			tl := tallies[c.Name+"/"+s]
			if tl == nil {
				continue
			}
			row = append(row, fmt.Sprintf("%s %s", s, tl))
			if total[s] == nil {
				total[s] = &tally{}
			}
			total[s].n += tl.n
			total[s].right += tl.right
			total[s].subst += tl.subst
			total[s].reject += tl.reject
		}
		o := oog[c.Name]
		t.Logf("HELDOUT %-6s %s | oog accepted %d/%d", c.Name, strings.Join(row, " | "), o[0], o[1])
	}
	for _, s := range sets {
		if total[s] != nil {
			t.Logf("HELDOUT all    %-8s %s", s, total[s])
		}
	}
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
	set := rec.Set
	if set == speechset.OOG {
		set = rec.Against
	}
	g, ok := grammars[set]
	if set == speechset.Digits || set == speechset.DigitsN {
		n := len(speechset.DigitString(rec.Text))
		if rec.Set == speechset.OOG {
			n = 4
		}
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
	pkt := func(i int) []byte { return payload[i*speechset.PacketSamples : min((i+1)*speechset.PacketSamples, len(payload))] }
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
