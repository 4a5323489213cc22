package clock

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Epoch is where a Fake starts unless told otherwise.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Fake is a Clock that moves only when a test calls Advance. It fires timers, After channels and
// tickers in time order, with Now reading each one's instant while it fires, on the goroutine that
// advances it. Ticks are handed over synchronously: Advance returns only once every tick due in the
// interval was received (or its ticker stopped), so a test knows the ticker's owner has seen each.
//
// Code under test often arms its next timer on its own goroutine after the previous one fired; a
// test that advances again before that would skip the timer. Pending, Due and Wait let the test
// wait, without sleeping, until the code is parked on the clock.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	auto    bool
	timers  []*fakeTimer
	tickers []*fakeTicker
	changed chan struct{} // closed, and replaced, whenever a timer or ticker is armed or stopped
}

// NewFake starts at Epoch.
func NewFake() *Fake { return NewFakeAt(Epoch) }

// NewFakeAt starts at t.
func NewFakeAt(t time.Time) *Fake { return &Fake{now: t, changed: make(chan struct{})} }

// NewAutoFake is a Fake in virtual time for one waiter: every After(d) first advances the clock by d,
// so code that paces itself (a rate limit) runs at full speed while Now still reflects its waits.
func NewAutoFake() *Fake {
	c := NewFake()
	c.auto = true
	return c
}

func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *Fake) After(d time.Duration) <-chan time.Time {
	if c.auto && d > 0 {
		c.Advance(d)
	}
	ch := make(chan time.Time, 1)
	if d <= 0 || c.auto {
		ch <- c.Now()
		return ch
	}
	c.arm(d, func() { ch <- c.Now() }) // never blocks: fires once into a buffer of one
	return ch
}

func (c *Fake) AfterFunc(d time.Duration, f func()) Timer { return c.arm(d, f) }

func (c *Fake) NewTicker(d time.Duration) Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTicker{c: make(chan time.Time), period: d, next: c.now.Add(d), stop: make(chan struct{}), clock: c}
	c.tickers = append(c.tickers, t)
	c.notifyLocked()
	return t
}

func (c *Fake) arm(d time.Duration, f func()) *fakeTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	c.notifyLocked()
	return t
}

func (c *Fake) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Advance moves time forward by d, firing what falls due in time order (including what the
// callbacks arm within the interval).
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for c.fireNext(end) {
	}
}

// fireNext fires the earliest timer or tick due by end and reports whether there was one; when
// none is left it moves the clock to end.
func (c *Fake) fireNext(end time.Time) bool {
	c.mu.Lock()
	c.pruneLocked()
	var due time.Time
	var tk *fakeTicker
	var tm *fakeTimer
	for _, t := range c.tickers {
		if !t.next.After(end) && (tk == nil || t.next.Before(due)) {
			tk, due = t, t.next
		}
	}
	for _, t := range c.timers {
		if !t.at.After(end) && ((tk == nil && tm == nil) || t.at.Before(due)) {
			tm, tk, due = t, nil, t.at
		}
	}
	if tk == nil && tm == nil {
		c.now = end
		c.mu.Unlock()
		return false
	}
	c.now = due
	if tm != nil {
		tm.done = true
		c.mu.Unlock()
		tm.f()
		return true
	}
	tk.next = tk.next.Add(tk.period)
	c.mu.Unlock()
	select {
	case tk.c <- due:
	case <-tk.stop:
	}
	return true
}

// pruneLocked forgets fired and stopped timers and stopped tickers.
func (c *Fake) pruneLocked() {
	timers := c.timers[:0]
	for _, t := range c.timers {
		if !t.done {
			timers = append(timers, t)
		}
	}
	clear(c.timers[len(timers):])
	c.timers = timers
	tickers := c.tickers[:0]
	for _, t := range c.tickers {
		if !t.stopped() {
			tickers = append(tickers, t)
		}
	}
	clear(c.tickers[len(tickers):])
	c.tickers = tickers
}

// Step advances in increments of step up to d, calling each (if not nil) after every increment, so
// that work one tick triggers can run before the next (packets a pacer sent reaching a receiver).
func (c *Fake) Step(d, step time.Duration, each func()) {
	for t := time.Duration(0); t < d; t += step {
		c.Advance(step)
		if each != nil {
			each()
		}
	}
}

// Pending is how many timers and After channels have not fired and were not stopped.
func (c *Fake) Pending() int { return c.Due(-1) }

// Due is how many pending timers and After channels fall due within d of now (any, for d < 0).
func (c *Fake) Due(d time.Duration) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.done && (d < 0 || !t.at.After(c.now.Add(d))) {
			n++
		}
	}
	return n
}

// Tickers is how many tickers are running.
func (c *Fake) Tickers() int {
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

// Changed is closed the next time a timer, After channel or ticker is armed or stopped: a test
// selects on it together with what else it waits for.
func (c *Fake) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// Wait returns once cond holds, checking it whenever the clock's timers change; it fails when ctx
// ends first, saying what it waited for.
func (c *Fake) Wait(ctx context.Context, what string, cond func(*Fake) bool) error {
	for {
		ch := c.Changed()
		if cond(c) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("clock: waiting for %s: %w", what, ctx.Err())
		}
	}
}

type fakeTimer struct {
	c    *Fake
	at   time.Time
	f    func()
	done bool // fired or stopped; guarded by c.mu
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.done
	t.done = true
	if was {
		t.c.notifyLocked()
	}
	return was
}

type fakeTicker struct {
	clock  *Fake
	c      chan time.Time
	period time.Duration
	next   time.Time // guarded by clock.mu
	once   sync.Once
	stop   chan struct{}
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }

func (t *fakeTicker) Stop() {
	t.once.Do(func() {
		close(t.stop)
		t.clock.mu.Lock()
		t.clock.notifyLocked()
		t.clock.mu.Unlock()
	})
}

func (t *fakeTicker) stopped() bool {
	select {
	case <-t.stop:
		return true
	default:
		return false
	}
}

// AwaitTimeout bounds Await: long enough for a loaded 2-core CI machine, short enough that a hung
// condition fails its test rather than the whole run.
const AwaitTimeout = 10 * time.Second

// TB is the part of testing.TB that Await uses (this package does not link the testing package).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Await is Wait for a test: it fails tb when cond has not held within AwaitTimeout of wall time.
func (c *Fake) Await(tb TB, what string, cond func(*Fake) bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), AwaitTimeout)
	defer cancel()
	if err := c.Wait(ctx, what, cond); err != nil {
		tb.Fatalf("%v", err)
	}
}
