package load

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/client"
)

// Config is a load run. Sessions start Rate per second until Sessions are open at once (the ramp),
// and ended ones are replaced at the same rate until Total have started. Each runs Turns turns
// and then holds until Hold has passed since its 200 OK; with Hold and no Turns it repeats turns
// for the whole Hold (a turn still going when it ends is cut short by the BYE, not failed).
type Config struct {
	Server     string // for the report
	LocalIP    string // RTP address (default 127.0.0.1)
	Sessions   int
	Total      int // 0: Sessions
	Rate       float64
	Hold       time.Duration
	Turns      int
	Recognize  *RecognizeTurn // nil: no recognitions
	Idle       bool           // send Recognize's input over and over with no request at all (needs Hold)
	Speak      *SpeakTurn     // nil: no SPEAKs
	SpeakShare float64        // with both, the fraction of sessions that speak (0: one half)
	Impairment Impairment
	Workers    int           // RTP workers (0: 2)
	Timeout    time.Duration // for each INVITE, and each turn unless there is a Hold (0: 30 s)

	MeasurePID    int           // a server process to measure once all Sessions are open (0: none)
	MeasureWindow time.Duration // for this long (0: 20 s)

	Progress      func(Progress) // called every ProgressEvery while the run lasts
	ProgressEvery time.Duration  // 0: 1 s
}

// RecognizeTurn is what each recognition does.
type RecognizeTurn struct {
	Grammar     string // URI, or the name of GrammarBody for the report
	GrammarBody []byte // sent with DEFINE-GRAMMAR once per session, recognized as session:<id>
	GrammarType string
	Input       Input
	Loop        bool // repeat the input until the recognition completes
	Headers     []mrcp.Field
	Expect      string // the right result, for the accuracy figure ("" for none)
}

// SpeakTurn is what each SPEAK asks for.
type SpeakTurn struct {
	Text, ContentType, Voice string
	Headers                  []mrcp.Field
}

// Progress is the live state of a run.
type Progress struct {
	Elapsed                         time.Duration
	Open, Started, OK, Failed       int
	Recognitions, Speaks            int
	SentPackets, ReceivedPackets    uint64
	SendLate, SendSkipped, SendErrs uint64
}

type runner struct {
	cfg    Config
	client *client.Client
	eng    *Engine
	progs  *programs
	col    *collector

	open, peak, started atomic.Int64
	full                chan struct{} // closed when Sessions are first open at once
	fullOnce            sync.Once
	closing             chan struct{} // closed when, after that, the first session ends
	closingOnce         sync.Once
}

// ErrConfig wraps Run's refusals of its configuration.
var ErrConfig = errors.New("load: bad configuration")

func (c *Config) check() error {
	if err := c.problem(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

func (c *Config) problem() error {
	switch {
	case c.Sessions <= 0 || c.Rate <= 0:
		return errors.New("sessions and rate must be positive")
	case c.Recognize == nil && c.Speak == nil:
		return errors.New("nothing to do: give a grammar to recognize or text to speak")
	case c.Total != 0 && c.Total < c.Sessions:
		return fmt.Errorf("total %d is below the %d concurrent sessions", c.Total, c.Sessions)
	case c.Recognize != nil && !c.Idle && c.Recognize.Grammar == "" && len(c.Recognize.GrammarBody) == 0:
		return errors.New("a recognition needs a grammar")
	case c.Idle && (c.Recognize == nil || c.Hold == 0 || c.Speak != nil):
		return errors.New("idle sessions need audio to send, a hold and no SPEAK")
	case c.Impairment.Loss < 0 || c.Impairment.Loss > 1 || c.Impairment.Jitter < 0:
		return errors.New("loss must be within 0..1 and jitter not negative")
	case c.Turns < 0 || c.Hold < 0 || c.SpeakShare < 0 || c.SpeakShare > 1:
		return errors.New("turns and hold must not be negative, the speak share within 0..1")
	}
	return nil
}

// Run drives the load through cl (whose SIP transport and address it uses) and reports. Only a
// configuration error or an unusable machine (no sockets) is an error: the server's failures
// are the report's.
func Run(ctx context.Context, cl *client.Client, cfg Config) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Total == 0 {
		cfg.Total = cfg.Sessions
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.LocalIP == "" {
		cfg.LocalIP = "127.0.0.1"
	}
	if cfg.Recognize != nil && cfg.Speak != nil && cfg.SpeakShare == 0 {
		cfg.SpeakShare = 0.5
	}
	if cfg.Recognize == nil {
		cfg.SpeakShare = 1
	}
	eng, err := NewEngine(cfg.Workers, cfg.LocalIP, cfg.Impairment)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	r := &runner{cfg: cfg, client: cl, eng: eng, full: make(chan struct{}), closing: make(chan struct{}),
		col: newCollector(cfg.Recognize != nil && cfg.Recognize.Expect != "")}
	if cfg.Recognize != nil {
		r.progs = newPrograms(cfg.Recognize.Input)
	}
	start := time.Now()
	var bg sync.WaitGroup
	pctx, stopBG := context.WithCancel(ctx)
	var window *Window
	if cfg.MeasurePID > 0 {
		bg.Go(func() { window = r.measure(pctx) })
	}
	if cfg.Progress != nil {
		bg.Go(func() { r.progress(pctx, start) })
	}
	r.launch(ctx)
	stopBG()
	bg.Wait()
	rep := &Report{Server: cfg.Server, ElapsedSeconds: time.Since(start).Seconds(), PeakOpen: int(r.peak.Load()), Measure: window}
	r.col.report(rep)
	rep.RTPSent, rep.RTPRead = eng.Stats()
	return rep, nil
}

// launch starts sessions on the ramp's schedule and waits for them all.
func (r *runner) launch(ctx context.Context) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, r.cfg.Sessions)
	interval := time.Duration(float64(time.Second) / r.cfg.Rate)
	t := time.NewTicker(interval)
	defer t.Stop()
	share := 0.0
	for i := range r.cfg.Total {
		if i > 0 {
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
		select {
		case <-ctx.Done():
		case slots <- struct{}{}:
		}
		if ctx.Err() != nil {
			break
		}
		// Speakers are spread evenly: session i speaks when the running share crosses a whole one.
		before := math.Floor(share)
		share += r.cfg.SpeakShare
		x := &session{r: r, speak: math.Floor(share) > before}
		r.started.Add(1)
		wg.Go(func() {
			r.col.ended(x.run(ctx))
			<-slots
		})
	}
	wg.Wait()
}

// opened counts open sessions (200 OK received, BYE not yet sent).
func (r *runner) opened(d int64) {
	n := r.open.Add(d)
	for {
		p := r.peak.Load()
		if n <= p || r.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if d > 0 && n >= int64(r.cfg.Sessions) {
		r.fullOnce.Do(func() { close(r.full) })
	}
	if d < 0 {
		select {
		case <-r.full:
			r.closingOnce.Do(func() { close(r.closing) })
		default:
		}
	}
}

func (r *runner) progress(ctx context.Context, start time.Time) {
	every := r.cfg.ProgressEvery
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.cfg.Progress(r.snapshot(start))
	}
}

func (r *runner) snapshot(start time.Time) Progress {
	tx, rx := r.eng.Stats()
	p := Progress{Elapsed: time.Since(start), Open: int(r.open.Load()), Started: int(r.started.Load()),
		SentPackets: tx.Packets, ReceivedPackets: rx.Packets, SendLate: tx.Late, SendSkipped: tx.Skipped, SendErrs: tx.Errors}
	r.col.mu.Lock()
	p.OK, p.Failed = r.col.counts.OK, r.col.counts.Failed
	p.Recognitions, p.Speaks = r.col.recog.Completed, r.col.speak.Completed
	r.col.mu.Unlock()
	return p
}
