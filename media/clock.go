package media

import "time"

// Clock is the only source of time in this package, so tests can drive the jitter buffer and the pacer
// deterministically (see mediatest.FakeClock).
type Clock interface {
	Now() time.Time
	NewTicker(d time.Duration) Ticker
	AfterFunc(d time.Duration, f func()) Timer
}

// Ticker is the part of *time.Ticker the package uses.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Timer is the part of *time.Timer the package uses.
type Timer interface {
	Stop() bool
}

// RealClock is the wall clock.
type RealClock struct{}

func (RealClock) Now() time.Time                            { return time.Now() }
func (RealClock) NewTicker(d time.Duration) Ticker          { return realTicker{time.NewTicker(d)} }
func (RealClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

func orRealClock(c Clock) Clock {
	if c == nil {
		return RealClock{}
	}
	return c
}
