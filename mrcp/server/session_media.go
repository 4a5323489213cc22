package server

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/mrcpd/mrcpd/mrcp/sdp"
)

// endpoint is the RTP side of one audio m-line; channels find theirs by a=cmid = a=mid.
type endpoint struct {
	mid    string
	index  int
	conn   net.PacketConn
	remote *net.UDPAddr
	codec  sdp.Format
	te     *sdp.Format
	dir    string // our direction, from the answer
	ptime  time.Duration
	rx     Receiver
	tx     Sender
	cancel context.CancelFunc
}

func (ep *endpoint) receives() bool { return ep.dir == "recvonly" || ep.dir == "sendrecv" }
func (ep *endpoint) sends() bool    { return ep.dir == "sendonly" || ep.dir == "sendrecv" }

// mediaByMid finds the endpoint of mid; with a single audio line any channel uses it (clients
// that omit a=cmid/a=mid still get media).
func (se *session) mediaByMid(mid string, index int) *endpoint {
	for _, ep := range se.media {
		if (mid != "" && ep.mid == mid) || (index >= 0 && ep.index == index) {
			return ep
		}
	}
	if index < 0 && len(se.media) == 1 {
		return se.media[0]
	}
	return nil
}

// startMedia starts the receivers and senders; called once the session goroutine runs.
func (se *session) startMedia() {
	se.started = true
	for _, ep := range se.media {
		se.startEndpoint(ep)
	}
	for _, ch := range se.channels {
		ch.bindMedia()
	}
}

func (se *session) startEndpoint(ep *endpoint) {
	if ep.cancel != nil {
		return
	}
	mf := se.srv.cfg.Media
	ctx, cancel := context.WithCancel(se.ctx)
	ep.cancel = cancel
	log := se.log.With("mid", ep.mid)
	// The sender first: with symmetric RTP the receiver moves it to where the peer's RTP comes from.
	var latch func(net.Addr)
	if ep.sends() {
		tx, err := mf.NewSender(ep.conn, SenderParams{Remote: ep.remote, Format: ep.codec, TelephoneEvent: ep.te,
			Ptime: ep.ptime, InputRate: se.srv.cfg.OutputRate, Logger: log})
		if err != nil {
			se.log.Error("RTP sender", "err", err)
		} else {
			ep.tx = tx
			if l, ok := tx.(interface{ SetRemote(net.Addr) }); ok {
				latch = l.SetRemote
			}
			se.wg.Add(1)
			go func() {
				defer se.wg.Done()
				if err := tx.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
					log.Warn("RTP sender stopped", "err", err)
				}
			}()
		}
	}
	if ep.receives() {
		formats := []sdp.Format{ep.codec}
		if ep.te != nil {
			formats = append(formats, *ep.te)
		}
		rx, err := mf.NewReceiver(ep.conn, ReceiverParams{Formats: formats, OutputRate: se.srv.cfg.InputRate,
			OnLatch: latch, Logger: log})
		if err != nil {
			se.log.Error("RTP receiver", "err", err)
		} else {
			ep.rx = rx
			metrics := se.srv.cfg.Metrics
			metrics.receiverStarted(rx)
			se.wg.Add(1)
			go func() {
				defer se.wg.Done()
				defer metrics.receiverEnded(rx)
				if err := rx.Run(ctx, &epSink{se: se, ep: ep}); err != nil && !errors.Is(err, context.Canceled) {
					log.Warn("RTP receiver stopped", "err", err)
				}
			}()
		}
	}
}

func (se *session) closeEndpoint(ep *endpoint) {
	if ep.cancel != nil {
		ep.cancel()
	}
	for _, ch := range se.channels {
		if ch.audio == ep {
			ch.res.stop()
			ch.audio = nil
		}
	}
	ep.conn.Close()
	for i, x := range se.media {
		if x == ep {
			se.media = append(se.media[:i], se.media[i+1:]...)
			break
		}
	}
}

// releaseMedia closes every RTP socket (which returns its port to the pool).
func (se *session) releaseMedia() {
	for _, ep := range se.media {
		if ep.cancel != nil {
			ep.cancel()
		}
		ep.conn.Close()
	}
	se.media = nil
	se.srv.mu.Lock()
	for id, x := range se.srv.channels {
		if x == se {
			delete(se.srv.channels, id)
		}
	}
	se.srv.mu.Unlock()
}

// epSink moves decoded media onto the session goroutine.
type epSink struct {
	se *session
	ep *endpoint
}

func (k *epSink) Audio(pcm []int16) {
	frame := append([]int16(nil), pcm...) // the receiver reuses its buffer
	k.se.post(func() {
		for _, ch := range k.se.channels {
			if ch.audio == k.ep {
				ch.res.audio(frame)
			}
		}
	})
}

func (k *epSink) DTMF(d rune) {
	k.se.post(func() {
		for _, ch := range k.se.channels {
			if ch.audio == k.ep {
				ch.res.dtmf(d)
			}
		}
	})
}
