package server

import (
	"net"
	"time"

	"github.com/mrcpd/mrcpd/media"
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
	srtp   *media.SRTPKeys // nil: RTP/AVP
	stream media.Stream    // nil until started, or when the stream failed
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

// startEndpoint opens the endpoint's stream on the media engine: from then on its packets and
// frames are the engine's, and the session hears of them as events only.
func (se *session) startEndpoint(ep *endpoint) {
	if ep.stream != nil || (!ep.receives() && !ep.sends()) {
		return
	}
	log := se.log.With("mid", ep.mid)
	cfg := media.StreamConfig{Receive: ep.receives(), Send: ep.sends(), Format: ep.codec, TelephoneEvent: ep.te,
		Ptime: ep.ptime, InputRate: se.srv.cfg.InputRate, OutputRate: se.srv.cfg.OutputRate,
		Events: &digitEvents{se: se, ep: ep}, Logger: log, SRTP: ep.srtp}
	if ep.remote != nil {
		cfg.Remote = ep.remote
	}
	st, err := se.srv.cfg.Media.Open(ep.conn, cfg)
	if err != nil {
		se.log.Error("RTP stream", "err", err)
		return
	}
	ep.stream = st
	if ep.receives() {
		se.srv.cfg.Metrics.receiverStarted(st)
	}
}

// stopEndpoint closes the endpoint's stream (again is harmless); the engine no longer calls
// anything of the session's for it once this returns.
func (se *session) stopEndpoint(ep *endpoint) {
	if ep.stream == nil {
		return
	}
	ep.stream.Close()
	if ep.receives() {
		se.srv.cfg.Metrics.receiverEnded(ep.stream)
	}
	// ep.stream stays: its final counts go into the session's detail record.
}

func (se *session) closeEndpoint(ep *endpoint) {
	for _, ch := range se.channels {
		if ch.audio == ep {
			ch.res.stop()
			ch.audio = nil
		}
	}
	se.stopEndpoint(ep)
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
		se.stopEndpoint(ep)
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

// digitEvents brings a stream's DTMF digits onto the session goroutine, to the channels on it.
type digitEvents struct {
	se *session
	ep *endpoint
}

func (k *digitEvents) MediaEvent(ev media.Event) {
	if ev.Kind != media.EventDigit {
		return
	}
	k.se.postEvent(func() {
		for _, ch := range k.se.channels {
			if ch.audio == k.ep {
				ch.res.dtmf(ev.Digit)
			}
		}
	})
}

// tapEvents brings a tap's speech events onto the session goroutine.
type tapEvents func(media.Event)

func (f tapEvents) MediaEvent(ev media.Event) { f(ev) }
