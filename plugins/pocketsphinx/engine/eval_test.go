package engine

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/plugins/pocketsphinx/speechset"
)

// evaluation is what one run of evaluate counted.
type evaluation struct {
	conds   []speechset.Condition
	tallies map[string]*tally    // condition/set
	oog     map[string][2]int    // condition: accepted, n
	conf    map[string][]float64 // right/wrong/oog, digits or words: confidences of matched answers
}

// evaluate recognises every item through every condition with an engine configured as cfg and
// logs the report, each line prefixed by tag.
func evaluate(t *testing.T, tag string, items []speechset.Item, cfg Config) *evaluation {
	ev := &evaluation{conds: heldOutConditions(t), tallies: map[string]*tally{}, oog: map[string][2]int{}, conf: map[string][]float64{}}
	recs := record(t, items)
	e := newTestEngine(t, cfg)
	grammars := heldOutGrammars(t)
	var audio time.Duration
	var mu sync.Mutex
	var errs []error
	cpu0 := cpuTime()
	for _, c := range ev.conds {
		work := make(chan speechset.Recording)
		var wg sync.WaitGroup
		for range 2 { // the two cores; CPU time is what counts, not wall time
			wg.Go(func() {
				for rec := range work {
					a, ok, d, err := recognizeHeldOut(e, c, rec, grammars)
					mu.Lock()
					if err != nil {
						errs = append(errs, fmt.Errorf("%s %s %s %q: %w", c.Name, rec.Set, rec.Voice, rec.Text, err))
					} else {
						audio += d
						ev.count(t, c, rec, a, ok)
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
	ev.report(t, tag)
	t.Logf("%s %d recognitions, %v of audio, %v CPU: %.3f x real time (CPU time of the test process)",
		tag, len(recs)*len(ev.conds), audio.Round(time.Second), cpu.Round(time.Millisecond), cpu.Seconds()/audio.Seconds())
	return ev
}

// count files one recognition: accepted means matched at MRCP's default threshold.
func (ev *evaluation) count(t *testing.T, c speechset.Condition, rec speechset.Recording, a asr.Alternative, matched bool) {
	accepted := matched && a.Confidence >= defaultThreshold
	kind := "words"
	if rec.Set == speechset.Digits || rec.Set == speechset.DigitsN || rec.Against == speechset.Digits {
		kind = "digits"
	}
	if rec.Set == speechset.OOG {
		o := ev.oog[c.Name]
		o[1]++
		if accepted {
			o[0]++
			t.Logf("%s oog %s %q against %s accepted as %q (%.2f)", c.Name, rec.Voice, rec.Text, rec.Against, a.Text, a.Confidence)
		}
		ev.oog[c.Name] = o
		ev.conf["oog "+kind] = append(ev.conf["oog "+kind], a.Confidence)
		return
	}
	k := c.Name + "/" + rec.Set
	if ev.tallies[k] == nil {
		ev.tallies[k] = &tally{}
	}
	tl := ev.tallies[k]
	tl.n++
	right := matched && (a.Interpretation == rec.Want() || a.Text == rec.Want())
	switch {
	case right:
		ev.conf["right "+kind] = append(ev.conf["right "+kind], a.Confidence)
	case matched:
		ev.conf["wrong "+kind] = append(ev.conf["wrong "+kind], a.Confidence)
	}
	switch {
	case !accepted:
		tl.reject++
	case right:
		tl.right++
	default:
		tl.subst++
	}
	if !accepted || !right {
		t.Logf("%s %s %s: want %q (%q), got %q (%q, %.2f)", c.Name, rec.Set, rec.Voice, rec.Text, rec.Want(), a.Text, a.Interpretation, a.Confidence)
	}
}

// overall is every in-grammar tally summed, and out-of-grammar speech accepted of all.
func (ev *evaluation) overall() (all tally, oog [2]int) {
	for _, tl := range ev.tallies {
		all.n += tl.n
		all.right += tl.right
		all.subst += tl.subst
		all.reject += tl.reject
	}
	for _, o := range ev.oog {
		oog[0] += o[0]
		oog[1] += o[1]
	}
	return all, oog
}

type tally struct{ n, right, subst, reject int }

func (t tally) String() string {
	if t.n == 0 {
		return "-"
	}
	p := func(k int) float64 { return 100 * float64(k) / float64(t.n) }
	return fmt.Sprintf("n=%-3d acc %5.1f%% sub %4.1f%% rej %5.1f%%", t.n, p(t.right), p(t.subst), p(t.reject))
}

// report logs one line per condition and set, and the sets over every condition.
func (ev *evaluation) report(t *testing.T, tag string) {
	conds, tallies, oog := ev.conds, ev.tallies, ev.oog
	sets := []string{speechset.Digits, speechset.DigitsN, speechset.Boolean, speechset.Menu, speechset.Menu7}
	total := map[string]*tally{}
	for _, c := range conds {
		for _, s := range sets {
			tl := tallies[c.Name+"/"+s]
			if tl == nil {
				continue
			}
			t.Logf("%s %-6s %-8s %s", tag, c.Name, s, tl)
			if total[s] == nil {
				total[s] = &tally{}
			}
			total[s].n += tl.n
			total[s].right += tl.right
			total[s].subst += tl.subst
			total[s].reject += tl.reject
		}
		if o := oog[c.Name]; o[1] > 0 {
			t.Logf("%s %-6s oog      n=%-3d accepted %5.1f%%", tag, c.Name, o[1], 100*float64(o[0])/float64(o[1]))
		}
	}
	for _, s := range sets {
		if total[s] != nil {
			t.Logf("%s all    %-8s %s", tag, s, total[s])
		}
	}
	for _, k := range []string{"right digits", "wrong digits", "oog digits", "right words", "wrong words", "oog words"} {
		t.Logf("%s confidence %-12s %s", tag, k, quantiles(ev.conf[k]))
	}
}
