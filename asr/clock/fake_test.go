package clock

import (
	"context"
	"testing"
	"time"
)

func TestFakeFiresInTimeOrder(t *testing.T) {
	c := NewFake()
	var got []time.Duration
	at := func(d time.Duration) { c.AfterFunc(d, func() { got = append(got, c.Now().Sub(Epoch)) }) }
	at(3 * time.Second)
	at(1 * time.Second)
	stopped := c.AfterFunc(2*time.Second, func() { t.Error("a stopped timer fired") })
	c.AfterFunc(2*time.Second, func() { at(500 * time.Millisecond) }) // re-armed within the interval
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop reports a pending timer once")
	}
	c.Advance(4 * time.Second)
	want := []time.Duration{time.Second, 2500 * time.Millisecond, 3 * time.Second}
	if len(got) != len(want) {
		t.Fatalf("fired at %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("fired at %v, want %v", got, want)
		}
	}
	if now := c.Now().Sub(Epoch); now != 4*time.Second {
		t.Fatalf("now %v after the advance", now)
	}
	if c.Pending() != 0 {
		t.Fatalf("%d timers pending after all fired", c.Pending())
	}
}

func TestFakeAfter(t *testing.T) {
	c := NewFake()
	ch := c.After(time.Second)
	if c.Pending() != 1 || c.Due(500*time.Millisecond) != 0 || c.Due(time.Second) != 1 {
		t.Fatalf("pending %d, due within 0.5 s %d, within 1 s %d", c.Pending(), c.Due(500*time.Millisecond), c.Due(time.Second))
	}
	c.Advance(999 * time.Millisecond)
	select {
	case <-ch:
		t.Fatal("fired early")
	default:
	}
	c.Advance(time.Millisecond)
	if at := <-ch; !at.Equal(Epoch.Add(time.Second)) {
		t.Fatalf("delivered %v", at)
	}
	if at := <-c.After(0); !at.Equal(c.Now()) {
		t.Fatalf("After(0) delivered %v", at)
	}
}

func TestFakeTickerDeliversEveryTick(t *testing.T) {
	c := NewFake()
	tk := c.NewTicker(20 * time.Millisecond)
	done := make(chan []time.Time)
	go func() {
		var ticks []time.Time
		for range 3 {
			ticks = append(ticks, <-tk.C())
		}
		tk.Stop()
		done <- ticks
	}()
	c.Advance(100 * time.Millisecond) // returns once the owner took three ticks and stopped
	ticks := <-done
	for i, at := range ticks {
		if want := Epoch.Add(time.Duration(i+1) * 20 * time.Millisecond); !at.Equal(want) {
			t.Fatalf("tick %d at %v, want %v", i, at, want)
		}
	}
	if c.Tickers() != 0 {
		t.Fatal("a stopped ticker is still counted")
	}
}

// A test waits until the code under test has armed its next timer, instead of sleeping.
func TestFakeWait(t *testing.T) {
	c := NewFake()
	go func() { c.AfterFunc(time.Second, func() {}) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Wait(ctx, "a timer", func(c *Fake) bool { return c.Pending() == 1 }); err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := c.Wait(short, "two timers", func(c *Fake) bool { return c.Pending() == 2 }); err == nil {
		t.Fatal("Wait returned nil for a condition that never held")
	}
}

func TestAutoFake(t *testing.T) {
	c := NewAutoFake()
	if at := <-c.After(3 * time.Second); !at.Equal(Epoch.Add(3 * time.Second)) {
		t.Fatalf("After delivered %v", at)
	}
	if !c.Now().Equal(Epoch.Add(3 * time.Second)) {
		t.Fatalf("now %v", c.Now())
	}
}

func TestReal(t *testing.T) {
	var c Clock = Real{}
	fired := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(fired) })
	<-fired
	<-c.After(time.Millisecond)
	tk := c.NewTicker(time.Millisecond)
	<-tk.C()
	tk.Stop()
	if Or(nil) != (Real{}) {
		t.Fatal("Or(nil) is not the wall clock")
	}
}

func TestFakeTickerAndTimer(t *testing.T) {
	c := NewFake()
	tk := c.NewTicker(20 * time.Millisecond)
	fired := 0
	c.AfterFunc(50*time.Millisecond, func() { fired++ })
	got := make(chan time.Time, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 5; i++ {
			got <- <-tk.C()
		}
	}()
	start := c.Now()
	c.Advance(100 * time.Millisecond)
	<-done
	tk.Stop()
	for i := 1; i <= 5; i++ {
		if at := <-got; at.Sub(start) != time.Duration(i)*20*time.Millisecond {
			t.Errorf("tick %d at %v", i, at.Sub(start))
		}
	}
	if fired != 1 {
		t.Errorf("timer fired %d times", fired)
	}
	c.Advance(time.Second) // a stopped ticker must not block Advance
}
