package plugin

import (
	"syscall"
	"testing"
	"time"
)

// TestLifelineEndsPlugin: a plugin process exits when the write end of its lifeline closes, as
// it does when mrcpd dies however it dies (here the host lives on, so no parent-death signal is
// involved), and the host starts another in its place.
func TestLifelineEndsPlugin(t *testing.T) {
	h := startNoop(t, nil)
	in := h.instances[0]
	g := in.current()
	pid := g.cmd.Process.Pid
	if err := g.run.lifeline.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("plugin process %d still running 10 s after its lifeline closed", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for in.current() == g || in.current() == nil {
		if time.Now().After(deadline) {
			t.Fatal("no new plugin process after the lifeline ended the first")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSpawnerEnds: the spawner goroutine (and its locked thread) goes once no process it
// started is left, and comes back for the next.
func TestSpawnerEnds(t *testing.T) {
	for range 2 {
		h := startNoop(t, func(c *HostConfig) { c.Pool = 2 })
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			spawner.mu.Lock()
			live := spawner.live
			spawner.mu.Unlock()
			if live == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("spawner still answers for %d processes after Close", live)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
