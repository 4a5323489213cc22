package speechset

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// Answer is what a recognizer returned for one recording: its best alternative, if any.
type Answer struct {
	Matched        bool // a result came back (not no-match)
	Text           string
	Interpretation string
	Confidence     float64
}

// Tally counts the recordings of one set through one channel: right answers, wrong answers
// accepted (substitutions) and rejections (no match, or under the threshold).
type Tally struct{ N, Right, Subst, Reject int }

func (t Tally) String() string {
	if t.N == 0 {
		return "-"
	}
	p := func(k int) float64 { return 100 * float64(k) / float64(t.N) }
	return fmt.Sprintf("n=%-3d acc %5.1f%% sub %4.1f%% rej %5.1f%%", t.N, p(t.Right), p(t.Subst), p(t.Reject))
}

func (t *Tally) add(u Tally) {
	t.N += u.N
	t.Right += u.Right
	t.Subst += u.Subst
	t.Reject += u.Reject
}

// Evaluation is the report of one held-out (or tuning) run, engine-level or through mrcpd: per
// channel condition and set, accuracy, substitutions and rejections at Threshold, out-of-grammar
// acceptance, the confidences of right, wrong and out-of-grammar answers, and the real-time
// factor as CPU time. Safe for concurrent use.
type Evaluation struct {
	Threshold float64 // MRCP's Confidence-Threshold the answers are judged at

	mu      sync.Mutex
	conds   []string
	tallies map[string]*Tally    // condition/set
	oog     map[string][2]int    // condition: accepted, n
	conf    map[string][]float64 // right/wrong/oog, digits or words: confidences of matched answers
	audio   time.Duration
}

// NewEvaluation returns an empty report of conds, answers judged at threshold.
func NewEvaluation(conds []Condition, threshold float64) *Evaluation {
	ev := &Evaluation{Threshold: threshold, tallies: map[string]*Tally{}, oog: map[string][2]int{}, conf: map[string][]float64{}}
	for _, c := range conds {
		ev.conds = append(ev.conds, c.Name)
	}
	return ev
}

// Count files one recognition of it through channel cond, audio long; it returns a line
// describing the miss when the answer was not the right one accepted ("" otherwise).
func (ev *Evaluation) Count(cond string, it Item, a Answer, audio time.Duration) (miss string) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.audio += audio
	accepted := a.Matched && a.Confidence >= ev.Threshold
	kind := "words"
	if it.Set == Digits || it.Set == DigitsN || it.Against == Digits {
		kind = "digits"
	}
	if it.Set == OOG {
		o := ev.oog[cond]
		o[1]++
		if accepted {
			o[0]++
			miss = fmt.Sprintf("%s oog %s %q against %s accepted as %q (%.2f)", cond, it.Voice, it.Text, it.Against, a.Text, a.Confidence)
		}
		ev.oog[cond] = o
		ev.conf["oog "+kind] = append(ev.conf["oog "+kind], a.Confidence)
		return miss
	}
	k := cond + "/" + it.Set
	if ev.tallies[k] == nil {
		ev.tallies[k] = &Tally{}
	}
	tl := ev.tallies[k]
	tl.N++
	right := a.Matched && (a.Interpretation == it.Want() || a.Text == it.Want())
	switch {
	case right:
		ev.conf["right "+kind] = append(ev.conf["right "+kind], a.Confidence)
	case a.Matched:
		ev.conf["wrong "+kind] = append(ev.conf["wrong "+kind], a.Confidence)
	}
	switch {
	case !accepted:
		tl.Reject++
	case right:
		tl.Right++
	default:
		tl.Subst++
	}
	if !accepted || !right {
		miss = fmt.Sprintf("%s %s %s: want %q (%q), got %q (%q, %.2f)", cond, it.Set, it.Voice, it.Text, it.Want(), a.Text, a.Interpretation, a.Confidence)
	}
	return miss
}

// Overall is every in-grammar tally summed, and out-of-grammar speech accepted of all.
func (ev *Evaluation) Overall() (all Tally, oog [2]int) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, tl := range ev.tallies {
		all.add(*tl)
	}
	for _, o := range ev.oog {
		oog[0] += o[0]
		oog[1] += o[1]
	}
	return all, oog
}

// Sets is the tallies of sets summed over every condition.
func (ev *Evaluation) Sets(sets ...string) Tally {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var t Tally
	for _, c := range ev.conds {
		for _, s := range sets {
			if tl := ev.tallies[c+"/"+s]; tl != nil {
				t.add(*tl)
			}
		}
	}
	return t
}

// Report is the report's lines, each prefixed by tag: one per condition and set, out-of-grammar
// acceptance per condition, the sets over every condition, the confidence quantiles, and the
// real-time factor of cpu (the recognizer's CPU time over the audio counted).
func (ev *Evaluation) Report(tag string, cpu time.Duration) []string {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var out []string
	sets := []string{Digits, DigitsN, Boolean, Menu, Menu7}
	total := map[string]*Tally{}
	n := 0
	for _, c := range ev.conds {
		for _, s := range sets {
			tl := ev.tallies[c+"/"+s]
			if tl == nil {
				continue
			}
			n += tl.N
			out = append(out, fmt.Sprintf("%s %-6s %-8s %s", tag, c, s, tl))
			if total[s] == nil {
				total[s] = &Tally{}
			}
			total[s].add(*tl)
		}
		if o := ev.oog[c]; o[1] > 0 {
			n += o[1]
			out = append(out, fmt.Sprintf("%s %-6s oog      n=%-3d accepted %5.1f%%", tag, c, o[1], 100*float64(o[0])/float64(o[1])))
		}
	}
	for _, s := range sets {
		if total[s] != nil {
			out = append(out, fmt.Sprintf("%s all    %-8s %s", tag, s, total[s]))
		}
	}
	for _, k := range []string{"right digits", "wrong digits", "oog digits", "right words", "wrong words", "oog words"} {
		out = append(out, fmt.Sprintf("%s confidence %-12s %s", tag, k, Quantiles(ev.conf[k])))
	}
	rtf := 0.0
	if ev.audio > 0 {
		rtf = cpu.Seconds() / ev.audio.Seconds()
	}
	out = append(out, fmt.Sprintf("%s %d recognitions, %v of audio, %v CPU: %.3f x real time",
		tag, n, ev.audio.Round(time.Second), cpu.Round(time.Millisecond), rtf))
	return out
}

// Quantiles summarises v: count, min, quartiles and max.
func Quantiles(v []float64) string {
	if len(v) == 0 {
		return "(none)"
	}
	s := slices.Clone(v)
	slices.Sort(s)
	q := func(p float64) float64 { return s[int(p*float64(len(s)-1))] }
	return fmt.Sprintf("n=%d min %.2f p25 %.2f median %.2f p75 %.2f max %.2f", len(s), s[0], q(0.25), q(0.5), q(0.75), s[len(s)-1])
}
