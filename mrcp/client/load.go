package client

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// LoadConfig is a load run: Rate new sessions per second for Duration.
type LoadConfig struct {
	Rate        float64
	Duration    time.Duration
	Concurrency int    // most sessions alive at once; 0: unlimited. A tick with none free counts as Skipped
	Resource    string // default speechrecog
	Recognize   bool   // run a RECOGNIZE of one RFC 4733 digit in each session
	Hold        time.Duration
}

// LoadReport summarises a load run.
type LoadReport struct {
	Started, OK, Failed, Skipped int
	Latencies                    []time.Duration // INVITE -> 200 OK, sorted
	Errors                       map[string]int  // error text -> count
}

// Percentile returns the p-th (0..100) INVITE -> 200 OK latency, nearest rank.
func (r *LoadReport) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(r.Latencies)))) - 1
	return r.Latencies[min(max(i, 0), len(r.Latencies)-1)]
}

func (r *LoadReport) String() string {
	s := fmt.Sprintf("sessions started %d ok %d failed %d skipped %d\nINVITE->200 OK p50 %v p95 %v p99 %v max %v",
		r.Started, r.OK, r.Failed, r.Skipped, r.Percentile(50), r.Percentile(95), r.Percentile(99), r.Percentile(100))
	for e, n := range r.Errors {
		s += fmt.Sprintf("\nerror x%d: %s", n, e)
	}
	return s
}

// Load opens sessions at a steady rate (INVITE, 200, ACK, control connection, optionally a
// RECOGNIZE, BYE) and measures INVITE -> 200 OK. Sessions start on a fixed schedule, not when
// the previous one ends, so a slow server shows up as latency, not as a lower rate.
func (c *Client) Load(ctx context.Context, cfg LoadConfig) (*LoadReport, error) {
	if cfg.Rate <= 0 || cfg.Duration <= 0 {
		return nil, errors.New("client: load needs a positive rate and duration")
	}
	if cfg.Resource == "" {
		cfg.Resource = "speechrecog"
	}
	rep := &LoadReport{Errors: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var slots chan struct{}
	if cfg.Concurrency > 0 {
		slots = make(chan struct{}, cfg.Concurrency)
	}
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	total := int(cfg.Duration / interval)
	start := time.Now()
	t := time.NewTicker(interval)
	defer t.Stop()
	for i := 0; i < total; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				wg.Wait()
				return rep, ctx.Err()
			case <-t.C:
			}
		}
		if slots != nil {
			select {
			case slots <- struct{}{}:
			default:
				rep.Skipped++
				continue
			}
		}
		rep.Started++
		wg.Go(func() {
			lat, err := c.loadSession(ctx, cfg)
			mu.Lock()
			if err != nil {
				rep.Failed++
				rep.Errors[err.Error()]++
			} else {
				rep.OK++
			}
			if lat > 0 {
				rep.Latencies = append(rep.Latencies, lat)
			}
			mu.Unlock()
			if slots != nil {
				<-slots
			}
		})
	}
	wg.Wait()
	slices.Sort(rep.Latencies)
	c.log.Info("load run done", "elapsed", time.Since(start))
	return rep, nil
}

func (c *Client) loadSession(ctx context.Context, cfg LoadConfig) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := c.Open(ctx, cfg.Resource)
	if err != nil {
		var se *SIPError
		if errors.As(err, &se) {
			return 0, fmt.Errorf("INVITE answered %d", se.Code)
		}
		return 0, err
	}
	lat := s.InviteLatency
	if cfg.Recognize {
		res, rerr := s.Recognize(ctx, RecognizeRequest{Grammar: "builtin:dtmf/digits?length=1", DTMF: "5"})
		if rerr == nil && !res.Success() {
			rerr = fmt.Errorf("recognition %s", res.Cause)
		}
		if rerr != nil {
			return lat, errors.Join(rerr, s.Close(ctx))
		}
	}
	if cfg.Hold > 0 {
		h := time.NewTimer(cfg.Hold)
		select {
		case <-ctx.Done():
		case <-h.C:
		}
		h.Stop()
	}
	return lat, s.Close(ctx)
}
