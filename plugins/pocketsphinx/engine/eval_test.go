package engine

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/mrcpd/mrcpd/plugins/pocketsphinx/speechset"
)

// evaluate recognises every recording through every condition with an engine configured as cfg
// and logs the report (speechset.Evaluation), each line prefixed by tag.
func evaluate(t *testing.T, tag string, recs []speechset.Recording, cfg Config) *speechset.Evaluation {
	conds := heldOutConditions(t)
	ev := speechset.NewEvaluation(conds, defaultThreshold)
	e := newTestEngine(t, cfg)
	grammars := heldOutGrammars(t)
	var mu sync.Mutex
	var errs []error
	cpu0 := cpuTime()
	dump := os.Getenv("MRCPD_ACCURACY_DUMP") != "" // every answer, for choosing a threshold
	for _, c := range conds {
		work := make(chan speechset.Recording)
		var wg sync.WaitGroup
		for range 2 { // the two cores; CPU time is what counts, not wall time
			wg.Go(func() {
				for rec := range work {
					a, ok, d, err := recognizeHeldOut(e, c, rec, grammars)
					if err != nil {
						mu.Lock()
						errs = append(errs, fmt.Errorf("%s %s %s %q: %w", c.Name, rec.Set, rec.Voice, rec.Text, err))
						mu.Unlock()
						continue
					}
					if dump {
						t.Logf("ANSWER %s|%s|%s|%s|%q|%q|%v|%.4f|%s", tag, c.Name, rec.Set, rec.Against, rec.Item.Want(), a.Interpretation, ok, a.Confidence, rec.Voice.Speaker())
					}
					ans := speechset.Answer{Matched: ok, Text: a.Text, Interpretation: a.Interpretation, Confidence: a.Confidence}
					if miss := ev.Count(c.Name, rec.Item, ans, d); miss != "" {
						t.Log(miss)
					}
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
	for _, l := range ev.Report(tag, cpuTime()-cpu0) {
		t.Log(l)
	}
	return ev
}
