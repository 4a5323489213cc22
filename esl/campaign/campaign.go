// Package campaign dials a list of numbers through one flow: a concurrency
// cap, a calls-per-second token bucket kept under FreeSWITCH's own
// sessions-per-second limit, throttle errors retried, a progress line, a JSON
// timeline per call and a CSV summary.
package campaign

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/esl/flow"
)

// FreeSWITCHDefaultSPS is switch.conf.xml's sessions-per-second default.
const FreeSWITCHDefaultSPS = 30

// ErrConfig wraps configuration errors.
var ErrConfig = errors.New("campaign: invalid configuration")

// Entry is one row of the CSV: the number and any other columns as variables.
type Entry struct {
	Index  int
	Number string
	Vars   map[string]string
}

// ReadCSV reads a header row (one column must be "number") and the entries.
func ReadCSV(r io.Reader) ([]Entry, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: csv header: %w", ErrConfig, err)
	}
	col := -1
	for i, h := range head {
		if h == "number" {
			col = i
		}
	}
	if col < 0 {
		return nil, fmt.Errorf("%w: csv has no \"number\" column", ErrConfig)
	}
	var out []Entry
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: csv line %d: %w", ErrConfig, line, err)
		}
		e := Entry{Index: len(out) + 1, Number: rec[col], Vars: map[string]string{}}
		if !numberRE.MatchString(e.Number) {
			return nil, fmt.Errorf("%w: csv line %d: number %q", ErrConfig, line, e.Number)
		}
		for i, h := range head {
			e.Vars[h] = rec[i]
		}
		out = append(out, e)
	}
}

var numberRE = regexp.MustCompile(`^\+?[0-9A-Za-z*#._-]{1,64}$`)

// Config of a campaign run.
type Config struct {
	Flow        *flow.Flow
	Runner      *flow.Runner
	Clock       clock.Clock // the token bucket's clock; default the wall clock
	Concurrency int         // calls in progress at once, default 10
	CPS         float64     // new calls per second, default 10
	// FreeSWITCHSPS is the server's sessions-per-second limit (switch.conf.xml
	// max-sessions-per-second, default 30). CPS must stay below it: the bucket
	// allows a burst of one, so at most CPS+1 calls start in any second.
	FreeSWITCHSPS int
	// MaxAttempts for calls refused by FreeSWITCH's throttle (default 3).
	// Other failures are final: redialling a busy person is a policy, not a retry.
	MaxAttempts int
	OutDir      string    // timelines in OutDir/calls/, OutDir/summary.csv
	Progress    io.Writer // one progress line per finished call; nil for none
}

// Result is one entry's final outcome.
type Result struct {
	Entry    Entry
	Attempts int
	Report   *flow.Report
}

// Summary of the whole run.
type Summary struct {
	Results   []Result // in entry order, one per entry
	Succeeded int
	Failed    int
	Throttled int // throttle refusals seen (then retried)
}

func (c *Config) validate() error {
	if c.Flow == nil || c.Runner == nil {
		return fmt.Errorf("%w: Flow and Runner are required", ErrConfig)
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Concurrency == 0 {
		c.Concurrency = 10
	}
	if c.CPS == 0 {
		c.CPS = 10
	}
	if c.FreeSWITCHSPS == 0 {
		c.FreeSWITCHSPS = FreeSWITCHDefaultSPS
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 3
	}
	if c.Concurrency < 1 || c.CPS <= 0 {
		return fmt.Errorf("%w: concurrency %d, cps %v", ErrConfig, c.Concurrency, c.CPS)
	}
	if c.CPS+1 > float64(c.FreeSWITCHSPS) {
		return fmt.Errorf("%w: cps %v (+1 burst) would exceed FreeSWITCH's %d sessions per second", ErrConfig, c.CPS, c.FreeSWITCHSPS)
	}
	return nil
}

// Run dials every entry once (plus throttle retries) and returns when all are
// reported. Each entry gets exactly one Result.
func Run(ctx context.Context, cfg Config, entries []Entry) (*Summary, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.OutDir != "" {
		if err := os.MkdirAll(filepath.Join(cfg.OutDir, "calls"), 0o755); err != nil {
			return nil, err
		}
	}
	d := &dispatcher{cfg: cfg, bucket: newBucket(cfg.Clock, cfg.CPS), results: make([]Result, len(entries)),
		start: cfg.Clock.Now()}
	runner := *cfg.Runner
	runner.Pacer = d.bucket
	queue := make([]int, len(entries))
	for i := range entries {
		queue[i] = i
	}
	slots := make(chan struct{}, cfg.Concurrency)
	done := make(chan attemptDone)
	inflight := 0
	cancelled := ctx.Done()
	for len(queue) > 0 || inflight > 0 {
		var startCh chan struct{}
		if len(queue) > 0 && ctx.Err() == nil {
			startCh = slots
		}
		select {
		case startCh <- struct{}{}:
			i := queue[0]
			queue = queue[1:]
			inflight++
			d.results[i].Entry = entries[i]
			d.results[i].Attempts++
			go func(e Entry) {
				vars := map[string]string{}
				for k, v := range e.Vars {
					vars[k] = v
				}
				vars["number"] = e.Number
				done <- attemptDone{i: i, rep: runner.Run(ctx, cfg.Flow, vars)}
			}(entries[i])
		case a := <-done:
			<-slots
			inflight--
			if a.rep.Throttled && d.results[a.i].Attempts < cfg.MaxAttempts && ctx.Err() == nil {
				d.throttled++
				// FreeSWITCH is over its limit: back off a second before
				// anything else starts, and try this number again later.
				d.bucket.pause(time.Second)
				queue = append(queue, a.i)
				continue
			}
			if a.rep.Throttled {
				d.throttled++
			}
			d.finish(a.i, a.rep)
		case <-cancelled:
			cancelled = nil // handled once; in-flight calls still report
			if len(queue) > 0 {
				for _, i := range queue {
					d.results[i].Entry = entries[i]
					d.finish(i, &flow.Report{Flow: cfg.Flow.Name, Result: "failed", Reason: "campaign cancelled before dialling"})
				}
				queue = nil
			}
		}
	}
	sum := &Summary{Results: d.results, Throttled: d.throttled}
	for _, r := range d.results {
		if r.Report.Result == "success" {
			sum.Succeeded++
		} else {
			sum.Failed++
		}
	}
	if cfg.OutDir != "" {
		if err := writeSummary(filepath.Join(cfg.OutDir, "summary.csv"), d.results); err != nil {
			return sum, err
		}
	}
	return sum, d.err
}

type attemptDone struct {
	i   int
	rep *flow.Report
}

type dispatcher struct {
	cfg       Config
	bucket    *bucket
	results   []Result
	start     time.Time
	finished  int
	ok        int
	throttled int
	err       error
}

// finish records an entry's one and only result.
func (d *dispatcher) finish(i int, rep *flow.Report) {
	if d.results[i].Report != nil {
		panic("campaign: entry reported twice") // a bug, not a runtime condition
	}
	d.results[i].Report = rep
	d.finished++
	if rep.Result == "success" {
		d.ok++
	}
	if d.cfg.OutDir != "" {
		name := filepath.Join(d.cfg.OutDir, "calls", fmt.Sprintf("%05d-%s.json", d.results[i].Entry.Index, safeName(d.results[i].Entry.Number)))
		if err := writeJSON(name, d.results[i]); err != nil && d.err == nil {
			d.err = err
		}
	}
	if d.cfg.Progress != nil {
		el := d.cfg.Clock.Now().Sub(d.start).Seconds()
		rate := 0.0
		if el > 0 {
			rate = float64(d.finished) / el
		}
		fmt.Fprintf(d.cfg.Progress, "campaign: %d/%d done, %d ok, %d failed, %d throttled, %.1f calls/s\n",
			d.finished, len(d.results), d.ok, d.finished-d.ok, d.throttled, rate)
	}
}

var unsafeRE = regexp.MustCompile(`[^0-9A-Za-z+._-]`)

func safeName(s string) string { return unsafeRE.ReplaceAllString(s, "_") }

func writeJSON(path string, r Result) error {
	b, err := json.MarshalIndent(map[string]any{"index": r.Entry.Index, "number": r.Entry.Number,
		"attempts": r.Attempts, "report": r.Report}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func ms(r *flow.Report, what string) string {
	if d, ok := r.Offset(what); ok {
		return strconv.FormatInt(d.Milliseconds(), 10)
	}
	return ""
}

func writeSummary(path string, results []Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"index", "number", "uuid", "result", "reason", "hangup_cause", "attempts",
		"answer_ms", "media_ms", "prompt_end_ms", "digits_sent_ms", "hangup_ms"})
	for _, r := range results {
		rep := r.Report
		_ = w.Write([]string{strconv.Itoa(r.Entry.Index), r.Entry.Number, rep.UUID, rep.Result, rep.Reason,
			rep.HangupCause, strconv.Itoa(r.Attempts), ms(rep, "answer"), ms(rep, "media"), ms(rep, "prompt_end"),
			ms(rep, "digits_sent"), ms(rep, "hangup")})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// bucket is a token bucket with a burst of one: calls start at most every
// 1/rate seconds on the injected clock. As the flow runner's Pacer it is held
// from the token until FreeSWITCH acknowledged the originate, so the spacing
// is the spacing FreeSWITCH sees, not just the one our goroutines intended.
type bucket struct {
	clock clock.Clock
	every time.Duration
	turn  sync.Mutex // one originate between token and acknowledgement

	mu   sync.Mutex
	next time.Time
}

// Wait implements flow.Runner's Pacer.
func (b *bucket) Wait(ctx context.Context) (func(), error) {
	b.turn.Lock()
	if err := b.take(ctx); err != nil {
		b.turn.Unlock()
		return nil, err
	}
	return b.turn.Unlock, nil
}

func newBucket(c clock.Clock, rate float64) *bucket {
	return &bucket{clock: c, every: time.Duration(float64(time.Second) / rate), next: c.Now()}
}

func (b *bucket) take(ctx context.Context) error {
	b.mu.Lock()
	now := b.clock.Now()
	wait := b.next.Sub(now)
	b.mu.Unlock()
	if wait > 0 {
		select {
		case <-b.clock.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
		now = b.clock.Now()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.next.Before(now) {
		b.next = now
	}
	b.next = b.next.Add(b.every)
	return nil
}

// pause delays the next start by at least d from now.
func (b *bucket) pause(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t := b.clock.Now().Add(d); t.After(b.next) {
		b.next = t
	}
}
