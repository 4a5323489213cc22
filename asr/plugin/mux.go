package plugin

import (
	"sync"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	pb "github.com/mrcpd/mrcpd/asr/pluginpb"
)

// mux sends the inputs of a process's Streams RPC. Streams append their inputs; one goroutine
// sends everything pending every interval (at once for non-audio inputs, which are rare and may
// end an utterance). A gRPC message per 20 ms frame per stream costs far more CPU than the engine
// of a no-op plugin; one message per interval for all streams costs about as much as the copies.
type mux struct {
	send     func(*pb.InputBatch) error
	interval time.Duration
	maxBytes int
	fail     func(error)
	waitHook func(time.Duration)

	mu      sync.Mutex
	seq     uint64 // batch number, so a stream can extend its own audio entry in the open batch
	pending []*pb.StreamInput
	spare   []*pb.StreamInput
	bytes   int
	oldest  time.Time
	kick    chan struct{}
}

func newMux(send func(*pb.InputBatch) error, interval time.Duration, fail func(error), hook func(time.Duration)) *mux {
	return &mux{send: send, interval: interval, maxBytes: 1 << 20, fail: fail, waitHook: hook, kick: make(chan struct{}, 1)}
}

func (m *mux) add(e *pb.StreamInput, urgent bool) {
	m.mu.Lock()
	if len(m.pending) == 0 {
		m.oldest = time.Now()
	}
	if e.Input != nil {
		m.seq++ // later audio must not be merged into an entry before this input
	}
	m.pending = append(m.pending, e)
	m.bytes += len(e.Pcm) + 16
	full := m.bytes >= m.maxBytes
	m.mu.Unlock()
	if urgent || full {
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
}

// addAudio appends PCM to the stream's audio entry of the open batch, or opens one: fewer,
// larger entries cost less on both sides than one per frame.
func (m *mux) addAudio(id uint64, pcm []int16, last **pb.StreamInput, lastSeq *uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if *last != nil && *lastSeq == m.seq {
		(*last).Pcm = appendPCM((*last).Pcm, pcm)
		m.bytes += 2 * len(pcm)
		return
	}
	if len(m.pending) == 0 {
		m.oldest = time.Now()
	}
	e := &pb.StreamInput{StreamId: id, Pcm: appendPCM(make([]byte, 0, 4*len(pcm)), pcm)}
	m.pending = append(m.pending, e)
	m.bytes += len(e.Pcm) + 16
	*last, *lastSeq = e, m.seq
	if m.bytes >= m.maxBytes {
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
}

// run sends until done is closed or the stream breaks, which means the process is gone.
func (m *mux) run(done <-chan struct{}) {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	var msg pb.InputBatch
	for {
		select {
		case <-done:
			return
		case <-t.C:
		case <-m.kick:
		}
		m.mu.Lock()
		batch, oldest := m.pending, m.oldest
		m.pending, m.spare = m.spare[:0], nil
		m.bytes = 0
		m.seq++
		m.mu.Unlock()
		if len(batch) == 0 {
			m.spare = batch
			continue
		}
		if m.waitHook != nil {
			m.waitHook(time.Since(oldest))
		}
		msg.Inputs = batch
		err := m.send(&msg)
		clear(batch)
		m.mu.Lock()
		m.spare = batch[:0]
		m.mu.Unlock()
		if err != nil {
			m.fail(asr.Errorf(asr.ErrUnavailable, true, "plugin input channel broke: %v", err))
			return
		}
	}
}
