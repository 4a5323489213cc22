package media

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"
)

// engineStream is a Stream served by a worker. Everything but the fields set at creation is guarded by
// the worker's mutex, which the worker holds while it reads sockets and runs a tick.
type engineStream struct {
	w    *worker
	slot int
	sock *Socket // the stream's own RTP socket, or its worker's shared one
	rtcp *Socket // its own RTCP socket; nil when port+1 was unavailable (the stream works, unreported) or shared
	// shared is the stream's handle on its worker's shared port (rtp.shared_port), nil with sockets
	// of its own; src is the source its RTP is routed by there, and heard says a packet came.
	shared *sharedConn
	src    netip.AddrPort
	heard  bool
	guard  *guard // source filter and SRTP, before rx
	rx     *Receiver
	tx     *Sender
	events EventSink
	log    *slog.Logger

	taps   []*Tap
	closed bool
}

// newStream builds a stream on its own sockets: sock from Listen, and RTCP on the port above.
func (e *Engine) newStream(sock *Socket, cfg StreamConfig) (*engineStream, error) {
	st := &engineStream{sock: sock}
	var rtcp *Socket
	// RTCP on the port above (RFC 3550 §11): receiver reports go out once the peer's RTCP is heard.
	if cfg.Receive {
		if r, err := e.pool.OpenRTCP(sock); err != nil {
			e.streamLog(cfg).Debug("no RTCP socket", "err", err)
		} else {
			st.rtcp, rtcp = r, r
		}
	}
	return st, e.buildStream(st, rtcp, cfg)
}

func (e *Engine) streamLog(cfg StreamConfig) *slog.Logger {
	if cfg.Logger != nil {
		return cfg.Logger
	}
	return e.log
}

// buildStream makes st's stages: its guard, sender and receiver, sending RTP from st.sock and
// reports from rtcp (nil: none).
func (e *Engine) buildStream(st *engineStream, rtcp *Socket, cfg StreamConfig) error {
	sock := st.sock
	st.events, st.log = cfg.Events, e.streamLog(cfg)
	g, err := newGuard(cfg, e.cfg.Symmetric)
	if err != nil {
		st.release()
		return err
	}
	st.guard = g
	if cfg.Send {
		tx, err := NewSender(g.sendConn(sock, false), cfg.Remote, SenderConfig{Format: cfg.Format, TelephoneEvent: cfg.TelephoneEvent,
			Ptime: cfg.Ptime, InputRate: cfg.OutputRate, Clock: e.clock, Logger: st.log})
		if err != nil {
			st.release()
			return err
		}
		st.tx = tx
	}
	if cfg.Receive {
		formats := []Format{cfg.Format}
		if cfg.TelephoneEvent != nil {
			formats = append(formats, *cfg.TelephoneEvent)
		}
		rc := ReceiverConfig{Formats: formats, OutputRate: cfg.InputRate, Jitter: e.cfg.Jitter,
			InbandDTMF: e.cfg.InbandDTMF, Clock: e.clock, Logger: st.log}
		if rtcp != nil {
			rc.RTCP = g.sendConn(rtcp, true)
		}
		if e.cfg.Symmetric && st.tx != nil {
			g.onLatch = st.tx.SetRemote // the guard latches: only on packets it passed
		}
		rx, err := NewReceiver(sock, rc)
		if err != nil {
			st.release()
			return err
		}
		st.rx = rx
	}
	if st.log.Enabled(context.Background(), slog.LevelDebug) {
		st.log.Debug("media pipeline", "stream", st.String()) // printing builds what it prints
	}
	return nil
}

// String prints the stream's stages on one line.
func (st *engineStream) String() string {
	var b strings.Builder
	if st.shared != nil {
		fmt.Fprintf(&b, "SharedPort(%v) -> ", st.sock.LocalAddr())
	}
	if st.rx != nil {
		b.WriteString(st.guard.String() + " -> ")
		b.WriteString(st.rx.String())
		b.WriteString(" -> Taps")
	}
	if st.tx != nil {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(st.tx.String())
	}
	return b.String()
}

func (st *engineStream) AddTap(t *Tap) {
	st.w.mu.Lock()
	defer st.w.mu.Unlock()
	t.heard = false
	st.taps = append(st.taps, t)
}

func (st *engineStream) RemoveTap(t *Tap) {
	st.w.mu.Lock()
	defer st.w.mu.Unlock()
	for i, x := range st.taps {
		if x == t {
			st.taps = append(st.taps[:i], st.taps[i+1:]...)
			return
		}
	}
}

func (st *engineStream) LastPacket() time.Time {
	if st.rx == nil {
		return time.Time{}
	}
	return st.rx.LastPacket()
}

func (st *engineStream) Stats() JitterStats {
	if st.rx == nil {
		return JitterStats{}
	}
	return st.guard.count(st.rx.Stats())
}

func (st *engineStream) Output() Output {
	if st.tx == nil {
		return nil
	}
	return st.tx
}

// Close closes the RTP socket, or the handle on the shared one, which takes the stream off its
// worker (see Socket.Close).
func (st *engineStream) Close() error {
	if st.shared != nil {
		return st.shared.Close()
	}
	return st.sock.Close()
}

// close takes the stream off its worker; the sockets' owner closes them.
func (st *engineStream) close() {
	if st.w != nil {
		st.w.remove(st)
	}
	st.release()
}

// release frees what the stream holds besides the RTP socket: the RTCP port and the sender's waiters.
func (st *engineStream) release() {
	if st.rtcp != nil {
		_ = st.rtcp.Close()
	}
	if st.tx != nil {
		st.tx.stop()
	}
}

// Audio is the receiver's output (Sink): each frame goes through every tap.
func (st *engineStream) Audio(pcm []int16) {
	for _, t := range st.taps {
		t.Frame(pcm)
	}
}

// DTMF is the receiver's digit output (Sink).
func (st *engineStream) DTMF(ev DTMFEvent) {
	if st.events != nil {
		st.events.MediaEvent(Event{Kind: EventDigit, Digit: ev.Digit})
	}
}

// tick runs one 20 ms step: a frame through the receive stages, and the pacer.
func (st *engineStream) tick(now time.Time) {
	switch {
	case st.rx == nil:
	case len(st.taps) == 0:
		st.rx.IdleAt(now, st) // nobody listens: counted, not decoded
	default:
		st.rx.TickAt(now, st)
	}
	if st.tx != nil {
		_ = st.tx.PaceAt(now) // send errors are logged by the sender; encoding errors cannot recur per tick
	}
}

var _ net.PacketConn = (*Socket)(nil)
