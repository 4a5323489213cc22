package plugin

import (
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mrcpd/mrcpd/asr"
	pb "github.com/mrcpd/mrcpd/asr/pluginpb"
)

// maxBatchBytes bounds one message of the mux below gRPC's 4 MB limit, which would break the
// process's stream for every recognition on it: an input that would push the open batch over it
// closes the batch first, so that several near-maximal starts (maxStartSize) queued within one
// interval go out as messages of their own.
const maxBatchBytes = 3<<20 + 1<<19

// mux sends the inputs of a process's Streams RPC. Streams append their inputs; one goroutine
// sends everything pending every interval (at once for non-audio inputs, which are rare and may
// end an utterance). A gRPC message per 20 ms frame per stream costs far more CPU than the engine
// of a no-op plugin; one message per interval for all streams, whose audio is one bytes field
// rather than an entry per stream, costs about as much as copying the audio.
type mux struct {
	send     func(*pb.InputBatch) error
	interval time.Duration
	maxBytes int
	fail     func(error)
	waitHook func(time.Duration)

	mu     sync.Mutex
	batch  uint64 // number of the open batch
	open   pb.InputBatch
	spare  pb.InputBatch // the buffers of the batch last sent, reused
	bytes  int
	sealed []*pb.InputBatch // batches closed by maxBatchBytes, sent before the open one
	oldest time.Time
	kick   chan struct{}

	// keepAlive is how many batches a stream may go without input before the mux sends it an
	// asr.KeepAlive (0: never): half the plugin's declared idle timeout.
	keepAlive uint64
	live      map[*muxState]struct{} // the streams to keep alive
}

// muxState is a stream's place in the open batch, guarded by the stream.
type muxState struct {
	inputsIn uint64 // 1 + the number of the batch in which the stream has an entry in inputs
	id       uint64
	lastIn   uint64 // the batch of the stream's last input
}

func newMux(send func(*pb.InputBatch) error, interval time.Duration, fail func(error), hook func(time.Duration)) *mux {
	return &mux{send: send, interval: interval, maxBytes: 1 << 20, fail: fail, waitHook: hook, kick: make(chan struct{}, 1)}
}

// add queues a non-audio input (or, for the start, the first input) of a stream.
func (m *mux) add(st *muxState, e *pb.StreamInput, urgent bool) {
	n := proto.Size(e) + 16
	m.mu.Lock()
	m.room(n)
	m.pending()
	m.open.Inputs = append(m.open.Inputs, e)
	st.inputsIn, st.lastIn = m.batch+1, m.batch
	m.bytes += n
	full := m.bytes >= m.maxBytes
	m.mu.Unlock()
	if urgent || full {
		m.wake()
	}
}

// addAudio queues a stream's audio: as a segment of the batch's audio field, unless an input of
// the stream is already in this batch, which the audio must follow.
func (m *mux) addAudio(st *muxState, id uint64, pcm []int16) {
	m.mu.Lock()
	m.room(2*len(pcm) + 16)
	m.pending()
	st.lastIn = m.batch
	if st.inputsIn == m.batch+1 {
		m.open.Inputs = append(m.open.Inputs, &pb.StreamInput{StreamId: id, Pcm: appendPCM(make([]byte, 0, 2*len(pcm)), pcm)})
	} else {
		m.open.Audio = appendPCM(m.open.Audio, pcm)
		m.open.AudioStreams = append(m.open.AudioStreams, id)
		m.open.AudioLengths = append(m.open.AudioLengths, uint32(2*len(pcm)))
	}
	m.bytes += 2*len(pcm) + 4
	full := m.bytes >= m.maxBytes
	m.mu.Unlock()
	if full {
		m.wake()
	}
}

// setKeepAlive makes the mux send KeepAlive to streams without input for idle/2, rounded down to
// flush intervals (at least one).
func (m *mux) setKeepAlive(idle time.Duration) {
	if idle <= 0 {
		return
	}
	m.keepAlive = max(1, uint64(idle/2/m.interval))
	m.live = map[*muxState]struct{}{}
}

// track and untrack the streams keep-alive applies to, from start to end.
func (m *mux) track(st *muxState) {
	if m.keepAlive == 0 {
		return
	}
	m.mu.Lock()
	m.live[st] = struct{}{}
	st.lastIn = m.batch
	m.mu.Unlock()
}

func (m *mux) untrack(st *muxState) {
	if m.keepAlive == 0 {
		return
	}
	m.mu.Lock()
	delete(m.live, st)
	m.mu.Unlock()
}

// keepAlives queues a KeepAlive for every tracked stream idle for m.keepAlive batches; m.mu is
// held.
func (m *mux) keepAlives() {
	for st := range m.live {
		if m.batch-st.lastIn < m.keepAlive {
			continue
		}
		m.pending()
		m.open.Inputs = append(m.open.Inputs, &pb.StreamInput{StreamId: st.id, Input: &pb.RecognizeInput{
			Input: &pb.RecognizeInput_KeepAlive{KeepAlive: &pb.KeepAlive{}}}})
		st.inputsIn, st.lastIn = m.batch+1, m.batch
		m.bytes += 16
	}
}

// room closes the open batch when n more bytes would take it over maxBatchBytes; m.mu is held.
// The closed batch keeps its buffers (the next open one starts empty) and goes out first.
func (m *mux) room(n int) {
	if m.bytes == 0 || m.bytes+n <= maxBatchBytes {
		return
	}
	m.sealed = append(m.sealed, &pb.InputBatch{Inputs: m.open.Inputs, Audio: m.open.Audio,
		AudioStreams: m.open.AudioStreams, AudioLengths: m.open.AudioLengths})
	m.open.Inputs, m.open.Audio, m.open.AudioStreams, m.open.AudioLengths = nil, nil, nil, nil
	m.bytes = 0
	m.batch++
	m.wake()
}

// pending notes when the open batch got its first input; m.mu is held.
func (m *mux) pending() {
	if m.bytes == 0 {
		m.oldest = time.Now()
	}
}

func (m *mux) wake() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// run sends until done is closed or the stream breaks, which means the process is gone.
func (m *mux) run(done <-chan struct{}) {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	gap := newBurstGap()
	defer gap.stop()
	var msg pb.InputBatch
	for {
		select {
		case <-done:
			return
		case <-t.C:
		case <-m.kick:
			if gap.wait() {
				continue
			}
		case <-gap.c:
		}
		gap.sent()
		m.mu.Lock()
		if m.keepAlive > 0 {
			m.keepAlives()
		}
		sealed := m.sealed
		m.sealed = nil
		if m.bytes == 0 && len(sealed) == 0 {
			m.batch++ // batches count time for keep-alive even when none is sent
			m.mu.Unlock()
			continue
		}
		if m.bytes == 0 {
			m.mu.Unlock()
			if !m.sendSealed(sealed) {
				return
			}
			continue
		}
		msg.Inputs, msg.Audio, msg.AudioStreams, msg.AudioLengths = m.open.Inputs, m.open.Audio, m.open.AudioStreams, m.open.AudioLengths
		m.open.Inputs, m.open.Audio, m.open.AudioStreams, m.open.AudioLengths = m.spare.Inputs[:0], m.spare.Audio[:0], m.spare.AudioStreams[:0], m.spare.AudioLengths[:0]
		oldest := m.oldest
		m.bytes = 0
		m.batch++
		m.mu.Unlock()
		if m.waitHook != nil {
			m.waitHook(time.Since(oldest))
		}
		if !m.sendSealed(sealed) {
			return
		}
		// gRPC has encoded the message when Send returns, so its buffers serve the next batch
		// but one.
		err := m.send(&msg)
		clear(msg.Inputs)
		m.mu.Lock()
		m.spare.Inputs, m.spare.Audio, m.spare.AudioStreams, m.spare.AudioLengths = msg.Inputs, msg.Audio, msg.AudioStreams, msg.AudioLengths
		m.mu.Unlock()
		if err != nil {
			m.fail(asr.Errorf(asr.ErrUnavailable, true, "plugin input channel broke: %v", err))
			return
		}
	}
}

// sendSealed sends batches closed for size, in order; false when the stream broke.
func (m *mux) sendSealed(sealed []*pb.InputBatch) bool {
	for _, b := range sealed {
		if err := m.send(b); err != nil {
			m.fail(asr.Errorf(asr.ErrUnavailable, true, "plugin input channel broke: %v", err))
			return false
		}
	}
	return true
}

// burstGap spaces the messages that urgent inputs and events cause. A lone one crosses at once,
// but when many streams start or finalize within a few milliseconds (a burst of calls, or the
// streams of one batch ending together) each would otherwise be a message of its own, with a
// write, a read and wake-ups on both sides: at 500 streams those messages outnumbered the audio
// flushes three to one.
const burstGap = 2 * time.Millisecond

// gapTimer holds back a send that would follow the previous one by less than burstGap. It
// belongs to the goroutine that sends.
type gapTimer struct {
	t    *time.Timer
	c    <-chan time.Time // t.C while armed, else nil
	last time.Time
}

func newBurstGap() *gapTimer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &gapTimer{t: t}
}

// wait reports whether a send asked for now must wait for c instead, and arms it.
func (g *gapTimer) wait() bool {
	d := burstGap - time.Since(g.last)
	if d <= 0 {
		return false
	}
	if g.c == nil {
		g.t.Reset(d)
		g.c = g.t.C
	}
	return true
}

// sent notes a send, which also serves whatever the armed timer was waiting for.
func (g *gapTimer) sent() {
	g.t.Stop()
	g.c = nil
	g.last = time.Now()
}

func (g *gapTimer) stop() { g.t.Stop() }
