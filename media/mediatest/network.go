package mediatest

import (
	"math/rand/v2"
	"sort"
	"time"
)

// Impairment describes what a Network does to packets. Probabilities are per packet.
type Impairment struct {
	Loss      float64       // independent random loss
	BurstLoss float64       // probability of entering a loss burst (Gilbert model)
	BurstLen  int           // mean burst length in packets when BurstLoss > 0
	Reorder   float64       // probability that a packet is held back behind the next one or two
	Duplicate float64       // probability that a packet is delivered twice
	Jitter    time.Duration // uniform extra delay 0..Jitter (up to 200 ms in the must-show tests)
	Delay     time.Duration // fixed one-way delay
	Seed      uint64
}

// Delivery is a packet arriving at At.
type Delivery struct {
	At  time.Time
	Pkt []byte
	seq int
}

// Network is a deterministic (seeded) impaired link in virtual time: Send schedules a packet, Due
// returns those that have arrived by a given time in arrival order.
type Network struct {
	imp     Impairment
	rng     *rand.Rand
	queue   []Delivery
	inBurst int
	n       int
	Sent    int
	Dropped int
	Dups    int
}

// NewNetwork returns a link with the given impairment.
func NewNetwork(imp Impairment) *Network {
	return &Network{imp: imp, rng: rand.New(rand.NewPCG(imp.Seed, 0x6d726370))}
}

// Send puts a copy of pkt on the link at time at.
func (n *Network) Send(pkt []byte, at time.Time) {
	n.Sent++
	if n.inBurst > 0 {
		n.inBurst--
		n.Dropped++
		return
	}
	if n.imp.BurstLoss > 0 && n.rng.Float64() < n.imp.BurstLoss {
		n.inBurst = 1 + n.rng.IntN(2*max(n.imp.BurstLen, 1))
		n.Dropped++
		return
	}
	if n.rng.Float64() < n.imp.Loss {
		n.Dropped++
		return
	}
	d := n.imp.Delay
	if n.imp.Jitter > 0 {
		d += time.Duration(n.rng.Int64N(int64(n.imp.Jitter)))
	}
	if n.rng.Float64() < n.imp.Reorder {
		d += time.Duration(1+n.rng.IntN(2)) * 20 * time.Millisecond
	}
	cp := append([]byte(nil), pkt...)
	n.push(Delivery{At: at.Add(d), Pkt: cp})
	if n.rng.Float64() < n.imp.Duplicate {
		n.Dups++
		n.push(Delivery{At: at.Add(d + time.Duration(n.rng.IntN(30))*time.Millisecond), Pkt: cp})
	}
}

func (n *Network) push(d Delivery) {
	d.seq = n.n
	n.n++
	n.queue = append(n.queue, d)
}

// Due removes and returns the packets that have arrived by now, in arrival order.
func (n *Network) Due(now time.Time) []Delivery {
	sort.SliceStable(n.queue, func(i, j int) bool {
		if n.queue[i].At.Equal(n.queue[j].At) {
			return n.queue[i].seq < n.queue[j].seq
		}
		return n.queue[i].At.Before(n.queue[j].At)
	})
	k := 0
	for k < len(n.queue) && !n.queue[k].At.After(now) {
		k++
	}
	out := n.queue[:k:k]
	n.queue = n.queue[k:]
	return out
}

// Pending is the number of packets still in flight.
func (n *Network) Pending() int { return len(n.queue) }
