// Package clock is the one time source that mrcpd's timers read: the MRCP server's protocol timers,
// the media engine's tick and pacer, the Event Socket client's heartbeats and backoff, the IVR
// runner's pauses. Code takes a Clock instead of calling time.Now, time.After, time.AfterFunc or
// time.NewTicker, so tests drive time with a Fake instead of sleeping.
//
// It lives at the bottom of the import graph (standard library only) so that every package, the
// speech backends under asr/ and plugins/ included, may import it.
package clock

import "time"

// Clock is the time source. Real is the wall clock; Fake moves only when a test says so.
type Clock interface {
	Now() time.Time
	// After delivers the time on the returned channel once d has elapsed.
	After(d time.Duration) <-chan time.Time
	// AfterFunc calls f once d has elapsed; Stop reports whether it prevented the call. Real runs f
	// in its own goroutine, Fake on the goroutine that advances it.
	AfterFunc(d time.Duration, f func()) Timer
	NewTicker(d time.Duration) Ticker
}

// Timer is a pending AfterFunc (the part of *time.Timer that is used).
type Timer interface{ Stop() bool }

// Ticker is the part of *time.Ticker that is used.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Real is the wall clock.
type Real struct{}

func (Real) Now() time.Time                            { return time.Now() }
func (Real) After(d time.Duration) <-chan time.Time    { return time.After(d) }
func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
func (Real) NewTicker(d time.Duration) Ticker          { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// Or is c, or the wall clock when c is nil (a configuration that names no clock).
func Or(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}

// Stop stops *t, if set, and forgets it.
func Stop(t *Timer) {
	if *t != nil {
		(*t).Stop()
		*t = nil
	}
}
