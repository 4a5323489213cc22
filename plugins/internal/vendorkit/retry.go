package vendorkit

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/mrcpd/mrcpd/asr"
)

// Backoff bounds retries of a connection attempt.
type Backoff struct {
	Attempts int           // connection attempts in all, over all endpoints; default 3
	Min, Max time.Duration // wait after a failed round over the endpoints; defaults 100 ms, 2 s
}

func (b Backoff) norm() Backoff {
	if b.Attempts <= 0 {
		b.Attempts = 3
	}
	if b.Min <= 0 {
		b.Min = 100 * time.Millisecond
	}
	if b.Max < b.Min {
		b.Max = max(b.Min, 2*time.Second)
	}
	return b
}

// Endpoints is an ordered set of vendor endpoints with a memory of the last one that worked, so
// that after a failover new streams go straight to the endpoint that answers.
type Endpoints struct {
	list []string
	b    Backoff

	mu   sync.Mutex
	good int // index of the endpoint to try first
}

// NewEndpoints returns the failover set; list must not be empty.
func NewEndpoints(list []string, b Backoff) *Endpoints {
	return &Endpoints{list: list, b: b.norm()}
}

// List returns the endpoints in configured order.
func (e *Endpoints) List() []string { return append([]string(nil), e.list...) }

// Dial calls dial on the endpoints in turn, starting with the last good one, until it succeeds,
// fails with an error that is not retryable (bad credentials, a bad parameter: another endpoint
// would say the same), or Attempts are used up. Between rounds over all endpoints it waits with
// exponential backoff. The last error is returned.
func Dial[T any](ctx context.Context, e *Endpoints, dial func(ctx context.Context, endpoint string) (T, error)) (T, error) {
	var zero T
	e.mu.Lock()
	start := e.good
	e.mu.Unlock()
	wait := e.b.Min
	var last error
	for attempt := 0; attempt < e.b.Attempts; attempt++ {
		if attempt > 0 && attempt%len(e.list) == 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return zero, ctx.Err()
			case <-t.C:
			}
			wait = min(2*wait, e.b.Max)
		}
		i := (start + attempt) % len(e.list)
		v, err := dial(ctx, e.list[i])
		if err == nil {
			e.mu.Lock()
			e.good = i
			e.mu.Unlock()
			return v, nil
		}
		last = err
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		if !Retryable(err) {
			return zero, err
		}
	}
	return zero, last
}

// Retryable reports whether another attempt, perhaps on another endpoint, may succeed.
func Retryable(err error) bool {
	var e *asr.Error
	if errors.As(err, &e) {
		return e.Retryable
	}
	return false
}

// Failed records that endpoint failed after it was dialled (inside a stream), so that the next
// Dial starts with the endpoint after it.
func (e *Endpoints) Failed(endpoint string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, ep := range e.list {
		if ep == endpoint && e.good == i {
			e.good = (i + 1) % len(e.list)
		}
	}
}
