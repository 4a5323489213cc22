package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/client"
	"github.com/mrcpd/mrcpd/plugins/pocketsphinx/speechset"
)

// Issue 14: the held-out set (voices and phrases no tuning heard) sent by a client through the
// real mrcpd as G.711 RTP to the real PocketSphinx plugin, with the transform `make build`
// estimates, reported as the engine-level run reports it (speechset.Evaluation). Both runs are
// `go test ./plugins/pocketsphinx/engine ./cmd/mrcpd -run HeldOutAccuracy -v`, narrowed or
// widened by the same MRCPD_ACCURACY_* variables (plugins/pocketsphinx/ACCURACY.md, "Held-out
// evaluation").
//
// Only the mu-law channels without loss go through mrcpd: mrcp/client offers PCMU first and
// sends every packet; A-law and the PLC under loss are measured at the engine level (through
// mrcpd's own media.PLC).

// heldOutThroughPerSet is CI's subset: two items of each set, and two out-of-grammar phrases
// against each grammar, through ulaw and snr15 (36 calls, 65 s of audio, 11 s of CPU). With one
// item a set every item was one voice's (flite kal, the weakest), so the subset measured that
// voice: with noise suppression on it lost three answers at 15 dB (7 -> 4 of 10), while over 576
// calls the default lost 6 of 320 right answers and let 11 fewer wrong or out-of-grammar ones
// through (plugins/pocketsphinx/ACCURACY.md, "Noise suppression").
const heldOutThroughPerSet = 2

// Floors of the CI subset, under what it measured (16 of 20 right with noise_suppression 0, 13
// with the default; 0 of 16 out-of-grammar phrases accepted either way), not the issue's
// targets: see plugins/pocketsphinx/ACCURACY.md, "Held-out evaluation". A broken path through
// mrcpd (codec, resampler, plugin protocol) gets none right.
const (
	heldOutThroughFloor = 0.5
	heldOutThroughOOG   = 0.5
)

func TestE2EHeldOutAccuracyThroughMrcpd(t *testing.T) {
	if testing.Short() {
		t.Skip("accuracy set skipped in -short mode")
	}
	var through, ci []speechset.Condition
	for _, c := range speechset.Conditions {
		if c.Law == speechset.Ulaw && c.Loss == 0 {
			through = append(through, c)
			if c.Name == "ulaw" || c.Name == "snr15" {
				ci = append(ci, c)
			}
		}
	}
	conds, err := speechset.SelectConditions(through, ci)
	if err != nil {
		t.Fatal(err)
	}
	recs := recordHeldOut(t, speechset.SelectItems(speechset.HeldOut(), heldOutThroughPerSet))
	plugin := pocketsphinxPlugin(t)
	// Comparing settings (one "key=value;key=value" list; "digit_means=estimated" and
	// "mixture_weights=estimated" for the files make build estimates): overlaid on the plugin's,
	// the floors still apply.
	a := telephoneAdaptation(t, plugin.Path)
	for _, kv := range strings.Split(os.Getenv("MRCPD_ACCURACY_SETTINGS"), ";") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			switch k, v = strings.TrimSpace(k), strings.TrimSpace(v); {
			case k == "digit_means" && v == "estimated":
				v = a.digitMeans
			case k == "mixture_weights" && v == "estimated":
				v = a.mixw
			}
			plugin.Settings[k] = v
		}
	}
	d := startMrcpd(t, speechConfig(t, EnginesConfig{Plugins: []PluginConfig{plugin}}))
	_, menu := departmentsGrammar(t)
	grammars := map[string]client.RecognizeRequest{
		speechset.Boolean: {Grammar: "builtin:grammar/boolean"},
		speechset.Menu:    {GrammarBody: menu, GrammarType: "application/srgs+xml"},
		speechset.Menu7:   {GrammarBody: []byte(speechset.Menu7Grammar), GrammarType: "application/srgs+xml"},
	}
	ev := speechset.NewEvaluation(conds, defaultConfidenceThreshold)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()
	cpu0 := treeCPU(t, d.cmd.Process.Pid)
	for _, c := range conds {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var errs []error
		sem := make(chan struct{}, 4) // four calls at a time, as in TestE2ESpeechAccuracyThroughMrcpd
		for _, rec := range recs {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				a, audio, err := recognizeHeldOut(ctx, d, c, rec, grammars)
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s %s %s %q: %w", c.Name, rec.Set, rec.Voice, rec.Text, err))
					mu.Unlock()
					return
				}
				if miss := ev.Count(c.Name, rec.Item, a, audio); miss != "" {
					t.Log(miss)
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("%v\n%s", err, d.log)
		}
	}
	for _, l := range ev.Report("THROUGH", treeCPU(t, d.cmd.Process.Pid)-cpu0) {
		t.Log(l)
	}
	t.Log("THROUGH: CPU is mrcpd's and the plugin's (every process of the daemon's tree), RTP and control included")
	all, oog := ev.Overall()
	if r := float64(all.Right) / float64(max(all.N, 1)); r < heldOutThroughFloor {
		t.Errorf("held-out accuracy through mrcpd %.1f%% under %.0f%%", 100*r, 100*heldOutThroughFloor)
	}
	if o := float64(oog[0]) / float64(max(oog[1], 1)); o > heldOutThroughOOG {
		t.Errorf("held-out out-of-grammar acceptance through mrcpd %.1f%% over %.0f%%", 100*o, 100*heldOutThroughOOG)
	}
}

// recognizeHeldOut sends rec through channel c as one call: the grammar is the item's set's (for
// digit strings builtin:grammar/digits of the string's length, 4 for out-of-grammar speech).
func recognizeHeldOut(ctx context.Context, d *daemonProc, c speechset.Condition, rec speechset.Recording, grammars map[string]client.RecognizeRequest) (speechset.Answer, time.Duration, error) {
	set, n := rec.Grammar()
	req, ok := grammars[set]
	if n > 0 {
		req, ok = client.RecognizeRequest{Grammar: fmt.Sprintf("builtin:grammar/digits?length=%d", n)}, true
	}
	if !ok {
		return speechset.Answer{}, 0, fmt.Errorf("no grammar for %s", set)
	}
	req.Audio, req.AudioRate = c.Audio(rec), speechset.Rate
	req.Headers = []mrcp.Field{
		{Name: mrcp.HeaderRecognitionTimeout, Value: "15000"},
		// Every result: the evaluation applies the default threshold to the NLSML's confidence.
		{Name: mrcp.HeaderConfidenceThreshold, Value: "0.0"},
	}
	r, _, err := recognizeThrough(ctx, d, req)
	if err != nil {
		return speechset.Answer{}, 0, err
	}
	audio := time.Duration(len(req.Audio)) * time.Second / speechset.Rate
	if len(r.Interpretations) == 0 {
		return speechset.Answer{}, audio, nil
	}
	in := r.Interpretations[0]
	return speechset.Answer{Matched: true, Text: in.Input, Interpretation: in.Instance, Confidence: in.Confidence}, audio, nil
}

// recordHeldOut synthesises items; the test is skipped without a synthesizer.
func recordHeldOut(t *testing.T, items []speechset.Item) []speechset.Recording {
	t.Helper()
	recs, err := speechset.Record(context.Background(), t.TempDir(), items)
	if errors.Is(err, speechset.ErrNoSynth) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// treeCPU is the CPU time (user and system) of pid and every process under it, from /proc.
func treeCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	type proc struct{ ppid, ticks int }
	procs := map[int]proc{}
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range dirs {
		p, err := strconv.Atoi(de.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", de.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ... utime stime: fields 4, 14 and 15, counted after the comm.
		_, rest, ok := strings.Cut(string(b), ") ")
		f := strings.Fields(rest)
		if !ok || len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.Atoi(f[11])
		st, _ := strconv.Atoi(f[12])
		procs[p] = proc{ppid, ut + st}
	}
	in := map[int]bool{pid: true}
	for grew := true; grew; {
		grew = false
		for p, pr := range procs {
			if !in[p] && in[pr.ppid] {
				in[p], grew = true, true
			}
		}
	}
	ticks := 0
	for p := range in {
		ticks += procs[p].ticks
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ: 100 on Linux
}
