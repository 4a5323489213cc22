// Package load drives many MRCP sessions against a server and measures it: the engine behind
// `mrcpclient load`. Signalling and control use package client (one goroutine per session,
// blocked on its control connection); RTP runs on a few workers, each pacing all of its
// sessions' streams on one shared 20 ms tick, sending a tick's packets with one system call and
// reading what arrived with a few, as a media server's media threads do. Nothing in it is
// specific to mrcpd.
package load

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// ptime is the packet time of every stream (mod_unimrcp's and FreeSWITCH's default).
const ptime = 20 * time.Millisecond

// maxCatchUp is how many ticks a late worker sends back to back before it skips ahead: it
// absorbs a busy machine's scheduling delays (the server then still gets every second of audio)
// without an unbounded burst after a long stall.
const maxCatchUp = 10

// Impairment degrades what the engine sends, as a bad network would.
type Impairment struct {
	Loss   float64       // probability that a packet is not sent, 0..1
	Jitter time.Duration // each packet leaves up to this much after its time, uniformly
}

// Engine runs the RTP of every stream on a fixed set of workers.
type Engine struct {
	ip      [4]byte
	workers []*worker
	next    atomic.Uint32
	wg      sync.WaitGroup
}

// NewEngine starts n workers (n <= 0: 2) for streams on localIP.
func NewEngine(n int, localIP string, imp Impairment) (*Engine, error) {
	ip := net.ParseIP(localIP).To4()
	if ip == nil {
		return nil, fmt.Errorf("load: local address %q is not IPv4", localIP)
	}
	if imp.Loss < 0 || imp.Loss > 1 || imp.Jitter < 0 {
		return nil, fmt.Errorf("load: loss %v must be within 0..1 and jitter %v not negative", imp.Loss, imp.Jitter)
	}
	if n <= 0 {
		n = 2
	}
	e := &Engine{ip: [4]byte(ip)}
	start := time.Now()
	for i := range n {
		w, err := newWorker(e.ip, imp)
		if err != nil {
			e.Close()
			return nil, err
		}
		e.workers = append(e.workers, w)
		// Workers tick out of phase, so that the server sees their bursts spread over the 20 ms.
		first := start.Add(time.Duration(i) * ptime / time.Duration(n))
		e.wg.Go(func() { w.run(first) })
	}
	return e, nil
}

// Close stops the workers and closes their sockets; streams still open are closed with them.
func (e *Engine) Close() {
	for _, w := range e.workers {
		close(w.stop)
	}
	e.wg.Wait()
}

// TxStats counts what the engine sent.
type TxStats struct {
	Packets uint64 `json:"packets"`
	Dropped uint64 `json:"dropped_on_purpose"` // --loss
	Late    uint64 `json:"late"`               // sent more than one packet time behind schedule (the client was overloaded)
	Skipped uint64 `json:"skipped"`            // not sent at all: the worker fell more than 10 ticks (200 ms) behind
	Errors  uint64 `json:"errors"`             // refused by the kernel
	// The most any packet left behind its schedule, in milliseconds (the end of the system call
	// that sent it against its 20 ms slot).
	MaxBehindMS float64 `json:"max_behind_ms"`
	Calls       uint64  `json:"send_calls"` // system calls (sendmmsg) that sent them: a worker's tick is one
}

// RxCounts counts what the engine's sockets received.
type RxCounts struct {
	Packets uint64 `json:"packets"`           // RTP packets read, from any sender
	Dropped uint64 `json:"dropped_by_kernel"` // on a full socket buffer (SO_RXQ_OVFL), never read
}

// Stats sums the workers' counters.
func (e *Engine) Stats() (tx TxStats, rx RxCounts) {
	for _, w := range e.workers {
		tx.Packets += w.sent.Load()
		tx.Dropped += w.dropped.Load()
		tx.Late += w.late.Load()
		tx.Skipped += w.skipped.Load()
		tx.Errors += w.sendErrors.Load()
		tx.Calls += w.sendCalls.Load()
		tx.MaxBehindMS = max(tx.MaxBehindMS, float64(w.behind.Load())/float64(time.Millisecond))
		rx.Packets += w.received.Load()
		rx.Dropped += w.rxDropped.Load()
	}
	return tx, rx
}

// NewStream binds an RTP socket on an even port with its RTCP port beside it and hands it to a
// worker.
func (e *Engine) NewStream() (*Stream, error) {
	rtp, rtcp, port, err := bindPair(e.ip)
	if err != nil {
		return nil, err
	}
	w := e.workers[int(e.next.Add(1))%len(e.workers)]
	s := &Stream{w: w, fd: rtp, rtcpFD: rtcp, Port: port, done: make(chan struct{}), ssrc: rand.Uint32(),
		seq: uint16(rand.Uint32()), ts: rand.Uint32()}
	for _, opt := range []int{unix.SO_TIMESTAMPNS, unix.SO_RXQ_OVFL} {
		if err := unix.SetsockoptInt(rtp, unix.SOL_SOCKET, opt, 1); err != nil {
			return nil, errors.Join(fmt.Errorf("load: RTP socket option %d: %w", opt, err), unix.Close(rtp), unix.Close(rtcp))
		}
	}
	if !w.add(s) {
		return nil, errors.Join(errors.New("load: engine closed"), unix.Close(rtp), unix.Close(rtcp))
	}
	return s, nil
}
