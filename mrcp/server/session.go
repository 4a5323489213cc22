package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/sdp"
	"github.com/mrcpd/mrcpd/mrcp/sip"
)

type inbound struct {
	c *conn
	m *mrcp.Message
}

// session is one SIP dialog with its MRCP channels and media. Everything below the mutex-guarded
// fields is owned by the run goroutine (or by setup before that goroutine starts).
type session struct {
	srv        *Server
	callID     string
	remoteHost string
	sipTLS     bool   // the INVITE came over SIP TLS: every control channel must be TLS too
	user       string // SIP Request-URI user part: may name the session's engines
	log        *slog.Logger
	ctx        context.Context
	cancel     context.CancelCauseFunc
	inbox      chan inbound
	calls      chan func()
	done       chan struct{} // closed when run has left its loop
	wg         sync.WaitGroup

	mu      sync.Mutex
	bound   []*conn // the connections its channels are bound to (RFC 6787 §4.2)
	byeOnce bool    // send BYE when the session ends

	// Media events (digits, speech start and end) wait here for the run loop: the media worker
	// that raises them never blocks on a session.
	evMu    sync.Mutex
	evQueue []func()
	evWake  chan struct{}

	created           time.Time
	existing          bool // some channel was answered a=connection:existing
	sdpID, sdpVersion uint64
	pending           *offerState // the re-offer being answered (reoffer.go)
	channels          map[string]*channel
	media             []*endpoint
	connectTimer      clock.Timer
	mediaTimer        clock.Timer
	started           bool
}

func newSession(s *Server, call *sip.Call) *session {
	host := sourceHost(call)
	log := call.Logger
	if log == nil {
		log = s.log.With("call-id", call.CallID)
	}
	ctx, cancel := context.WithCancelCause(s.baseCtx)
	return &session{srv: s, callID: call.CallID, remoteHost: host, user: call.User, sipTLS: call.Transport == "tls",
		log: log, ctx: ctx, cancel: cancel,
		inbox: make(chan inbound, 32), calls: make(chan func()), done: make(chan struct{}), evWake: make(chan struct{}, 1),
		channels: map[string]*channel{}, created: s.cfg.Clock.Now()}
}

// sourceHost is the host a call's SIP request came from.
func sourceHost(call *sip.Call) string {
	host, _, err := net.SplitHostPort(call.Remote)
	if err != nil {
		return call.Remote
	}
	return host
}

// deliver hands a request to the session; false when the session is gone.
func (se *session) deliver(c *conn, m *mrcp.Message) bool {
	select {
	case se.inbox <- inbound{c, m}:
		return true
	case <-se.done:
		return false
	}
}

// post runs f on the session goroutine; it is dropped when the session has ended.
func (se *session) post(f func()) {
	select {
	case se.calls <- f:
	case <-se.done:
	}
}

// postEvent queues f for the session goroutine without blocking (media workers call it); the
// queue is drained before any request or call, so a call made after an event was raised sees it
// handled.
func (se *session) postEvent(f func()) {
	se.evMu.Lock()
	se.evQueue = append(se.evQueue, f)
	se.evMu.Unlock()
	select {
	case se.evWake <- struct{}{}:
	default:
	}
}

func (se *session) runEvents() {
	for {
		se.evMu.Lock()
		q := se.evQueue
		se.evQueue = nil
		se.evMu.Unlock()
		if len(q) == 0 {
			return
		}
		for _, f := range q {
			f()
		}
	}
}

// call runs f on the session goroutine and waits for its result.
func (se *session) call(ctx context.Context, f func() error) error {
	res := make(chan error, 1)
	select {
	case se.calls <- func() { res <- f() }:
	case <-se.done:
		return sip.Errorf(481, ErrSessionEnded, "session ended")
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-res
}

// after runs f on the session goroutine after d, on the injected clock.
func (se *session) after(d time.Duration, f func()) clock.Timer {
	return se.srv.cfg.Clock.AfterFunc(d, func() { se.post(f) })
}

// end makes the session leave its loop; bye asks for a SIP BYE (the client did not end it).
func (se *session) end(cause error, bye bool) {
	se.mu.Lock()
	if bye && se.ctx.Err() == nil {
		se.byeOnce = true
	}
	se.mu.Unlock()
	se.cancel(cause)
}

func (se *session) boundTo(c *conn) bool {
	se.mu.Lock()
	defer se.mu.Unlock()
	return slices.Contains(se.bound, c)
}

// send writes m on c, the control connection of the channel m belongs to.
func (se *session) send(c *conn, m *mrcp.Message) {
	if c == nil || !c.send(m) {
		se.log.Debug("dropped message: no control connection", "name", m.Name, "request-id", m.RequestID)
	}
}

func (se *session) run() {
	m := se.srv.cfg.Metrics
	m.sessionStarted()
	se.log.Info("session started", "channels", len(se.channels))
	se.startMedia()
	se.connectTimer = se.after(se.srv.cfg.ConnectTimeout, se.checkConnected)
	se.armMediaTimer()
	for {
		select {
		case <-se.ctx.Done():
			se.teardown()
			return
		case <-se.evWake:
			se.runEvents()
		case in := <-se.inbox:
			se.runEvents()
			se.handle(in)
		case f := <-se.calls:
			se.runEvents()
			f()
		}
	}
}

func (se *session) teardown() {
	cause := context.Cause(se.ctx)
	close(se.done)
	se.connectTimer.Stop()
	if se.mediaTimer != nil {
		se.mediaTimer.Stop()
	}
	for _, ch := range se.channels {
		ch.res.stop()
	}
	se.wg.Wait() // media goroutines: their posts fail fast now that done is closed
	se.releaseMedia()
	if w := se.srv.cfg.Waveforms; w != nil {
		w.Release(se.callID) // §9.4.8: kept until the session ends, retention decides after
	}
	se.srv.removeSession(se)
	se.mu.Lock()
	bye := se.byeOnce
	se.mu.Unlock()
	if bye {
		se.srv.bye(se.callID)
	}
	se.srv.cfg.Metrics.sessionEnded(cause)
	se.log.Info("session ended", "reason", cause, "bye", bye)
}

// connLossGrace is how long a session outlives its control connection: clients close the
// connection and send BYE at the same time, and a BYE of ours would cross theirs.
const connLossGrace = 2 * time.Second

// connLost ends the session (with a BYE) unless the client's own BYE arrives within the grace
// period: a channel bound to the lost connection can never be reached again (RFC 6787 §4.2).
func (se *session) connLost() {
	se.after(connLossGrace, func() {
		se.log.Info("ending session", "err", ErrConnLost)
		se.end(ErrConnLost, true)
	})
}

// checkConnected ends a session none of whose channels received a request: connect_timeout is
// per session. Only a connection from the client's host that is still unbound and was opened
// between the offer and the session's connect deadline may be this session's own, not used yet;
// the session waits for it (unbound connections are themselves closed after mrcp.idle_timeout),
// never for other sessions'. Connections opened after the deadline are too late to be its own:
// counting them, an abandoned session lived on for as long as its client's host kept opening
// connections (a FreeSWITCH host always does; TestConnectTimeoutNotExtendedByLaterConnections).
func (se *session) checkConnected() {
	se.mu.Lock()
	bound := len(se.bound) > 0
	se.mu.Unlock()
	if bound {
		return
	}
	if se.srv.unboundConnBetween(se.remoteHost, se.created, se.created.Add(se.srv.cfg.ConnectTimeout)) {
		se.connectTimer = se.after(se.srv.cfg.ConnectTimeout, se.checkConnected)
		return
	}
	se.log.Warn("ending session", "err", ErrConnectTimeout)
	se.end(ErrConnectTimeout, true)
}

// armMediaTimer checks for RTP while a resource consumes input (RECOGNIZE, RECORD): a caller who
// is gone without a BYE must not hold a recognizer forever.
func (se *session) armMediaTimer() {
	to := se.srv.cfg.MediaTimeout
	if to <= 0 {
		return
	}
	se.mediaTimer = se.after(to/4, func() {
		now := se.srv.cfg.Clock.Now()
		for _, ch := range se.channels {
			since, active := ch.res.inputSince()
			if !active || ch.audio == nil || ch.audio.stream == nil || !ch.audio.receives() {
				continue
			}
			last := ch.audio.stream.LastPacket()
			if last.Before(since) {
				last = since
			}
			if now.Sub(last) >= to {
				se.log.Warn("ending session", "err", ErrMediaTimeout, "channel", ch.id)
				se.end(ErrMediaTimeout, true)
				return
			}
		}
		se.armMediaTimer()
	})
}

// handle runs one request (RFC 6787 §5.2) on its channel, if it came on the channel's connection.
func (se *session) handle(in inbound) {
	ch := se.channels[in.m.ChannelID()]
	if ch == nil { // removed by a re-INVITE after routing
		in.c.send(errorResponse(in.m, mrcp.Status405, mrcp.HeaderChannelIdentifier, "no such channel"))
		return
	}
	if reason := se.bind(ch, in.c); reason != "" {
		se.srv.cfg.Metrics.requestRefused(reason)
		ch.log.Warn("request refused", "method", in.m.Name, "request-id", in.m.RequestID,
			"conn", in.c.nc.RemoteAddr().String(), "reason", reason)
		in.c.send(errorResponse(in.m, mrcp.Status403, mrcp.HeaderChannelIdentifier, reason))
		return
	}
	ch.request(in.m)
}

// bind ties ch to the first connection that uses it (RFC 6787 §4.2: the client opens the
// connection the answer named); afterwards only that connection is served. It returns why c may
// not use ch, "" when it may. A connection of the wrong transport never binds: a channel
// negotiated as TCP/TLS/MRCPv2 is served on TLS only, and a TCP/MRCPv2 one on plain TCP only.
func (se *session) bind(ch *channel, c *conn) string {
	switch {
	case ch.conn == c:
		return ""
	case ch.conn != nil:
		return refusedOtherConn
	case ch.tls != c.tls:
		return refusedTransport
	}
	ch.conn = c
	c.bound.Store(true)
	se.mu.Lock()
	if !slices.Contains(se.bound, c) {
		se.bound = append(se.bound, c)
	}
	se.mu.Unlock()
	return ""
}

// Why a request was refused with 403 (the reason label of mrcpd_control_requests_refused_total).
const (
	refusedOtherConn    = "other-connection" // the channel is bound to another connection
	refusedTransport    = "transport"        // the channel was negotiated on the other transport
	refusedParamsFull   = "params-full"      // SET-PARAMS past mrcp.max_channel_params (409)
	refusedGrammarsFull = "grammars-full"    // DEFINE-GRAMMAR past mrcp.max_channel_grammars (409)
)

func (se *session) channelFor(c sdp.Control) *channel {
	if c.Channel != "" {
		return se.channels[c.Channel]
	}
	for _, ch := range se.channels {
		if ch.resource == c.Resource && ch.cmid == c.Cmid {
			return ch
		}
	}
	return nil
}

func (se *session) addChannel(c sdp.Control) (*channel, error) {
	ch := &channel{se: se, id: newChannelID(c.Resource), resource: c.Resource, cmid: c.Cmid,
		tls: c.Proto == sdp.ProtoTLS}
	ch.log = se.log.With("channel", ch.id)
	switch c.Resource {
	case ResourceRecog:
		ch.res = newRecognizer(ch)
	case ResourceSynth:
		ch.res = newSynthesizer(ch)
	case ResourceRecorder:
		ch.res = newRecorder(ch)
	default:
		return nil, sip.Errorf(404, ErrUnknownResource, "resource %q not available", c.Resource)
	}
	ch.audio = se.mediaByMid(c.Cmid, -1)
	se.channels[ch.id] = ch
	se.srv.mu.Lock()
	se.srv.channels[ch.id] = se
	se.srv.mu.Unlock()
	if se.started {
		ch.bindMedia()
	}
	return ch, nil
}

func (se *session) removeChannel(ch *channel) {
	ch.res.stop()
	delete(se.channels, ch.id)
	se.srv.mu.Lock()
	delete(se.srv.channels, ch.id)
	se.srv.mu.Unlock()
}

func (se *session) String() string { return fmt.Sprintf("session(%s)", se.callID) }
