// Package mediatest holds test helpers for media and its users: a fake clock, a network-impairment
// harness, signal generators and quality measures.
package mediatest

import (
	"sync"
	"time"

	"github.com/mrcpd/mrcpd/media"
)

// FakeClock is a media.Clock that moves only when told. Ticks are delivered synchronously: Advance
// returns only after every ticker due in the interval has handed its ticks to a receiver (or was stopped),
// so a test that advances the clock knows the pacer has seen each tick.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*fakeTicker
	timers  []*fakeTimer
}

// NewFakeClock starts at a fixed instant.
func NewFakeClock() *FakeClock {
	return &FakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// Now implements media.Clock.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTicker implements media.Clock.
func (c *FakeClock) NewTicker(d time.Duration) media.Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTicker{c: make(chan time.Time), period: d, next: c.now.Add(d), stop: make(chan struct{})}
	c.tickers = append(c.tickers, t)
	return t
}

// AfterFunc implements media.Clock.
func (c *FakeClock) AfterFunc(d time.Duration, f func()) media.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// Tickers reports how many live tickers exist (tests wait for a Run loop to have started).
func (c *FakeClock) Tickers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.tickers {
		if !t.stopped() {
			n++
		}
	}
	return n
}

// Advance moves time forward by d, firing tickers and timers in time order.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var due time.Time
		var tk *fakeTicker
		var tm *fakeTimer
		for _, t := range c.tickers {
			if !t.stopped() && !t.next.After(end) && (tk == nil || t.next.Before(due)) {
				tk, due = t, t.next
			}
		}
		for _, t := range c.timers {
			if !t.done && !t.at.After(end) && ((tk == nil && tm == nil) || t.at.Before(due)) {
				tm, tk, due = t, nil, t.at
			}
		}
		if tk == nil && tm == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		c.now = due
		if tm != nil {
			tm.done = true
			c.mu.Unlock()
			tm.f()
			continue
		}
		tk.next = tk.next.Add(tk.period)
		c.mu.Unlock()
		select {
		case tk.c <- due:
		case <-tk.stop:
		}
	}
}

// Step advances in increments of step up to d (so that work triggered by one tick can run before the
// next, e.g. packets sent by a pacer reaching a receiver).
func (c *FakeClock) Step(d, step time.Duration, each func()) {
	for t := time.Duration(0); t < d; t += step {
		c.Advance(step)
		if each != nil {
			each()
		}
	}
}

type fakeTicker struct {
	c      chan time.Time
	period time.Duration
	next   time.Time
	once   sync.Once
	stop   chan struct{}
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }
func (t *fakeTicker) Stop()               { t.once.Do(func() { close(t.stop) }) }
func (t *fakeTicker) stopped() bool {
	select {
	case <-t.stop:
		return true
	default:
		return false
	}
}

type fakeTimer struct {
	c    *FakeClock
	at   time.Time
	f    func()
	done bool
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}
