package esltest

import (
	"sort"
	"sync"
	"time"
)

// Epoch is where fake clocks start: the date of the recorded transcript.
var Epoch = time.Date(2026, 11, 22, 2, 13, 21, 0, time.UTC)

// ManualClock only moves when a test calls Advance.
type ManualClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []manualWaiter
}

type manualWaiter struct {
	at time.Time
	ch chan time.Time
}

// NewManualClock starts at Epoch.
func NewManualClock() *ManualClock { return &ManualClock{now: Epoch} }

func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *ManualClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, manualWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

// Waiters is how many After channels have not fired yet, so a test can wait
// until the code under test is parked on the clock before advancing it.
func (c *ManualClock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// Advance moves time forward and fires every waiter that became due, in order.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	sort.SliceStable(c.waiters, func(i, j int) bool { return c.waiters[i].at.Before(c.waiters[j].at) })
	var keep []manualWaiter
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- w.at
		} else {
			keep = append(keep, w)
		}
	}
	c.waiters = keep
	c.mu.Unlock()
}

// AutoClock jumps forward by d whenever someone waits for d: virtual time for a
// single waiter (the campaign dispatcher), so rate limits are exercised at full
// speed while Now still reflects the waits.
type AutoClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewAutoClock starts at Epoch.
func NewAutoClock() *AutoClock { return &AutoClock{now: Epoch} }

func (c *AutoClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *AutoClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
	}
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}
