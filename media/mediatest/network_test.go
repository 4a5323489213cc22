package mediatest

import (
	"bytes"
	"testing"
	"time"
)

func TestNetworkDeterministicAndRates(t *testing.T) {
	run := func() ([]Delivery, *Network) {
		n := NewNetwork(Impairment{Loss: 0.1, Duplicate: 0.1, Jitter: 50 * time.Millisecond, Seed: 42})
		t0 := time.Unix(0, 0)
		for i := 0; i < 2000; i++ {
			n.Send([]byte{byte(i), byte(i >> 8)}, t0.Add(time.Duration(i)*20*time.Millisecond))
		}
		return n.Due(t0.Add(time.Hour)), n
	}
	a, na := run()
	b, _ := run()
	if len(a) != len(b) {
		t.Fatal("same seed, different deliveries")
	}
	for i := range a {
		if !a[i].At.Equal(b[i].At) || !bytes.Equal(a[i].Pkt, b[i].Pkt) {
			t.Fatal("same seed, different deliveries")
		}
	}
	for i := 1; i < len(a); i++ {
		if a[i].At.Before(a[i-1].At) {
			t.Fatal("deliveries out of arrival order")
		}
	}
	if na.Dropped < 150 || na.Dropped > 250 || na.Dups < 130 || na.Dups > 230 {
		t.Errorf("dropped %d and duplicated %d of 2000 at 10%% each", na.Dropped, na.Dups)
	}
	if na.Pending() != 0 {
		t.Errorf("%d still in flight", na.Pending())
	}
}
