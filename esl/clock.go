package esl

import "time"

// Clock is the time source for heartbeats, reconnect backoff, DTMF pauses and
// the IVR runner's delays, injected so tests never sleep.
type Clock interface {
	Now() time.Time
	// After fires once d has elapsed on this clock.
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

func (RealClock) Now() time.Time                         { return time.Now() }
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
