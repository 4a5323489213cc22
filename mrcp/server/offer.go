package server

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/mrcpd/mrcpd/mrcp/sdp"
	"github.com/mrcpd/mrcpd/mrcp/sip"
)

// Resources this server runs (RFC 6787 §3).
const (
	ResourceRecog    = "speechrecog"
	ResourceSynth    = "speechsynth"
	ResourceRecorder = "recorder"
)

var _ sip.Handler = (*Server)(nil)

// Offer implements sip.Handler: the offer/answer of RFC 6787 §4.2 on RFC 3264.
func (s *Server) Offer(ctx context.Context, call *sip.Call, body []byte, reinvite bool) ([]byte, error) {
	offer, err := sdp.ParseOffer(body)
	if err != nil {
		return nil, err // *sdp.Error knows its SIP status (488, 404)
	}
	if n := len(offer.Raw.MediaDescriptions); n > s.cfg.MaxOfferMedia {
		s.cfg.Metrics.rejected("media-lines")
		return nil, sip.Errorf(488, nil, "offer has %d m-lines, at most %d accepted", n, s.cfg.MaxOfferMedia)
	}
	s.mu.Lock()
	se := s.sessions[call.CallID]
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, sip.Errorf(503, ErrClosed, "server shutting down")
	}
	if reinvite && se == nil {
		return nil, sip.Errorf(481, ErrSessionEnded, "session %s has ended", call.CallID)
	}
	if reinvite {
		var answer []byte
		err := se.call(ctx, func() error {
			var err error
			answer, err = se.reoffer(ctx, offer)
			return err
		})
		return answer, err
	}
	if se != nil {
		return nil, sip.Errorf(491, nil, "session %s exists", call.CallID)
	}
	return s.newSessionFor(ctx, call, offer)
}

// newSessionFor admits a session, sets it up from its first offer and starts it.
func (s *Server) newSessionFor(ctx context.Context, call *sip.Call, offer *sdp.Offer) ([]byte, error) {
	if err := s.admit(sourceHost(call)); err != nil {
		return nil, err
	}
	se := newSession(s, call)
	answer, err := se.setup(offer)
	if err != nil {
		se.abandon()
		return nil, err
	}
	s.mu.Lock()
	if s.closed || s.sessions[call.CallID] != nil {
		s.mu.Unlock()
		se.abandon()
		return nil, sip.Errorf(503, ErrClosed, "server shutting down")
	}
	s.admitted.started()
	s.sessions[call.CallID] = se
	for id := range se.channels {
		s.channels[id] = se
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		se.run()
	}()
	if err := ctx.Err(); err != nil {
		// CANCELled while we worked: the SIP side has ended the dialog already.
		se.end(fmt.Errorf("%w: cancelled", ErrSessionEnded), false)
		return nil, err
	}
	return answer, nil
}

// admission counts sessions by source host from admission to their end, and those admitted
// but not yet started, so that concurrent INVITEs cannot all pass the caps. Guarded by Server.mu.
type admission struct {
	pending  int
	bySource map[string]int
}

func (a *admission) enter(host string) {
	if a.bySource == nil {
		a.bySource = map[string]int{}
	}
	a.pending++
	a.bySource[host]++
}

// started moves an admitted session from pending to live.
func (a *admission) started() { a.pending-- }

// abandon gives back the place of a session that never started.
func (a *admission) abandon(host string) {
	a.pending--
	a.leave(host)
}

// leave gives back the place of a session that has ended.
func (a *admission) leave(host string) {
	if a.bySource[host]--; a.bySource[host] <= 0 {
		delete(a.bySource, host)
	}
}

// admit takes a place for a new session from host, or says why there is none: 503, which the
// SIP agent answers with Retry-After (RFC 3261 §21.5.4).
func (s *Server) admit(host string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return sip.Errorf(503, ErrClosed, "server shutting down")
	}
	if n := len(s.sessions) + s.admitted.pending; n >= int(s.maxSessions.Load()) {
		s.cfg.Metrics.rejected("capacity")
		return sip.Errorf(503, nil, "at capacity (%d sessions)", n)
	}
	if n := s.admitted.bySource[host]; n >= s.cfg.MaxSessionsPerSource {
		s.cfg.Metrics.rejected("source-capacity")
		return sip.Errorf(503, nil, "%s has %d sessions, the most one source may have", host, n)
	}
	s.admitted.enter(host)
	return nil
}

// abandon undoes a session that never started: its media, its context, its admission.
func (se *session) abandon() {
	se.releaseMedia()
	se.cancel(nil)
	se.srv.mu.Lock()
	se.srv.admitted.abandon(se.remoteHost)
	se.srv.mu.Unlock()
}

// Ended implements sip.Handler: the dialog is over (BYE, CANCEL, ACK timeout).
func (s *Server) Ended(callID, reason string) {
	s.mu.Lock()
	se := s.sessions[callID]
	s.mu.Unlock()
	if se != nil {
		se.end(fmt.Errorf("%w: %s", ErrSessionEnded, reason), false)
	}
}

// setup builds the session's channels and media from a first offer. It runs before the session
// goroutine starts, so it owns the state.
func (se *session) setup(o *sdp.Offer) ([]byte, error) {
	se.sdpID = randUint63()
	return se.answer(o)
}

// answer walks the offer's m-lines and returns the SDP answer, creating what is new.
func (se *session) answer(o *sdp.Offer) ([]byte, error) {
	cfg := &se.srv.cfg
	a := &sdp.Answer{SessionID: se.sdpID, Version: se.sdpVersion, Addr: cfg.AdvertiseIP}
	for _, au := range o.Audio {
		aa, err := se.answerAudio(o, au)
		if err != nil {
			return nil, err
		}
		a.Audio = append(a.Audio, aa)
	}
	for _, c := range o.Control {
		ac, err := se.answerControl(c)
		if err != nil {
			return nil, err
		}
		a.Control = append(a.Control, ac)
	}
	return sdp.BuildAnswer(o, a)
}

func (se *session) answerControl(c sdp.Control) (sdp.AnswerControl, error) {
	if c.Port == 0 {
		// RFC 3264 §8.2: a zero port removes the stream; the channel goes with it.
		if ch := se.channelFor(c); ch != nil {
			se.removeLater(func() { se.removeChannel(ch) })
		}
		return sdp.AnswerControl{Proto: c.Proto, Cmid: c.Cmid, Rejected: true}, nil
	}
	if se.sipTLS && c.Proto != sdp.ProtoTLS {
		// Not downgraded: what SIP TLS protects must not travel in clear on the control channel.
		return sdp.AnswerControl{}, sip.Errorf(488, nil, "the call came over SIP TLS: the control channel must be %s, not %s", sdp.ProtoTLS, c.Proto)
	}
	port, proto := 0, c.Proto
	switch c.Proto {
	case sdp.ProtoTCP:
		port = tcpPort(se.srv.Addr())
	case sdp.ProtoTLS:
		if se.srv.tls == nil {
			return sdp.AnswerControl{}, sip.Errorf(488, nil, "%s not configured", c.Proto)
		}
		port = tcpPort(se.srv.TLSAddr())
	default:
		return sdp.AnswerControl{}, sip.Errorf(488, nil, "unsupported control proto %q", c.Proto)
	}
	ch := se.channelFor(c)
	if ch != nil && ch.tls != (c.Proto == sdp.ProtoTLS) {
		return sdp.AnswerControl{}, sip.Errorf(488, nil, "channel %s cannot change transport to %s", ch.id, c.Proto)
	}
	if ch == nil {
		var err error
		if ch, err = se.addChannel(c); err != nil {
			return sdp.AnswerControl{}, err
		}
	}
	conn := "new"
	// RFC 6787 §4.2 / RFC 4145 §5: reuse is the client's choice; we confirm it when we do hold
	// a connection from that client.
	if c.Connection == "existing" && se.srv.liveConnFrom(se.remoteHost) {
		conn = "existing"
		se.existing = true
	}
	return sdp.AnswerControl{Port: port, Proto: proto, Connection: conn, Channel: ch.id, Cmid: c.Cmid}, nil
}

func (se *session) answerAudio(o *sdp.Offer, au sdp.Audio) (sdp.AnswerAudio, error) {
	if au.Port == 0 {
		if ep := se.mediaByMid(au.Mid, au.Index); ep != nil {
			se.removeLater(func() { se.closeEndpoint(ep) })
		}
		return sdp.AnswerAudio{Mid: au.Mid, Rejected: true}, nil
	}
	ep := se.mediaByMid(au.Mid, au.Index)
	keys, local, err := se.negotiateSRTP(au, ep)
	if err != nil {
		return sdp.AnswerAudio{}, err
	}
	mf := se.srv.cfg.Media
	codec, te, err := sdp.NegotiateAudio(au, mf.Formats())
	if err != nil {
		return sdp.AnswerAudio{}, err
	}
	dir := sdp.ReverseDirection(au.Direction)
	addr := au.ConnAddr
	if addr == "" {
		addr = o.ConnAddr
	}
	remote := &net.UDPAddr{IP: net.ParseIP(addr), Port: au.Port}
	if ep == nil {
		pc, err := mf.Listen(remote)
		if err != nil {
			return sdp.AnswerAudio{}, sip.Errorf(503, err, "no RTP port free")
		}
		ep = &endpoint{mid: au.Mid, index: au.Index, conn: pc, srtp: keys}
		se.media = append(se.media, ep)
	}
	ep.remote = remote
	ep.codec, ep.te, ep.dir = codec, te, dir
	ep.ptime = time.Duration(au.Ptime) * time.Millisecond
	return sdp.AnswerAudio{Port: udpPort(ep.conn.LocalAddr()), Format: codec, TelephoneEvent: te,
		Direction: dir, Mid: au.Mid, Ptime: au.Ptime, Crypto: local}, nil
}

func tcpPort(a net.Addr) int {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.Port
	}
	_, p, _ := net.SplitHostPort(a.String())
	n, _ := strconv.Atoi(p)
	return n
}

func udpPort(a net.Addr) int {
	if ua, ok := a.(*net.UDPAddr); ok {
		return ua.Port
	}
	_, p, _ := net.SplitHostPort(a.String())
	n, _ := strconv.Atoi(p)
	return n
}

// newChannelID returns "<16 hex digits>@resource" (RFC 6787 §6.2.1).
func newChannelID(resource string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "@" + resource
}

func randUint63() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) >> 1
}
