package testkit

import (
	"testing"
	"time"
)

// EventuallyTimeout is how long Eventually waits: long enough for a loaded 2-core CI machine,
// short enough that a hung condition fails the test rather than the whole run.
const EventuallyTimeout = 10 * time.Second

// Eventually polls cond until it holds and fails the test, naming what, when it has not held
// within EventuallyTimeout. It is for state that other goroutines or processes change and that a
// test can only observe (a counter, a socket's peer, a child process); anything a test can wait
// for on a channel, or drive with a fake clock, should be waited for that way instead.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(EventuallyTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", EventuallyTimeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
