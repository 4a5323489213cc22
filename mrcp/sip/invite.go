package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emiago/sipgo/sip"
)

// offerResult is what a Handler.Offer call produced.
type offerResult struct {
	answer []byte
	err    error
}

// onInvite answers an initial INVITE (RFC 3261 §13.3) or passes a re-INVITE to its dialog.
// Every path ends in a final response: 100 Trying goes out first, then the answer or the error.
func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if s.rejectBadRequest(req, tx) {
		return
	}
	cid := callID(req)
	log := s.log.With("call_id", cid)
	if toTag(req) != "" {
		s.onReinvite(req, tx)
		return
	}
	if s.draining.Load() {
		s.respond(tx, req, 503, "Service Unavailable", log, sip.NewHeader("Retry-After", retryAfter), warningHeader("draining"))
		return
	}
	s.respond(tx, req, 100, "Trying", log)
	if code, text := checkOffer(req); code != 0 {
		log.Info("invite rejected", "code", code, "reason", text)
		s.respond(tx, req, code, reasonPhrase(code), log, warningHeader(text), sip.NewHeader("Accept", "application/sdp"))
		return
	}
	timer, err := negotiateTimer(req, s.cfg.SessionExpires)
	if err != nil {
		s.respondError(tx, req, err, log, sip.NewHeader("Min-SE", strconv.Itoa(int(min(minSE, s.cfg.SessionExpires).Seconds()))))
		return
	}
	call := &Call{CallID: cid, FromTag: fromTag(req), ToTag: sip.GenerateTagN(16), Remote: req.Source(),
		Transport: remoteTransport(req), User: req.Recipient.User, Logger: log}
	var cancelled atomic.Bool
	if s.cancelledEarly(req) {
		log.Info("invite cancelled before it was handled")
		s.respond(tx, req, 487, reasonPhrase(487), log)
		return
	}
	r, ctxErr := s.runOffer(req, tx, call, &cancelled)
	switch {
	case cancelled.Load(): // the transaction answered 487
		if r.err == nil {
			s.handler.Ended(call.CallID, "cancelled")
		}
	case r.err != nil && errors.Is(ctxErr, context.DeadlineExceeded):
		log.Warn("offer handler timed out", "timeout", s.cfg.OfferTimeout)
		s.respondError(tx, req, &StatusError{Code: 500, Warning: ErrOfferTimeout.Error()}, log)
	case r.err != nil:
		log.Info("offer rejected", "error", r.err)
		s.respondError(tx, req, r.err, log)
	default:
		s.accept(req, tx, call, timer, r.answer, &cancelled)
	}
}

// runOffer calls Handler.Offer with a context that a CANCEL (RFC 3261 §9.2) or the offer timeout
// ends, and waits for whichever comes first. ctxErr is the context's error at that point.
func (s *Server) runOffer(req *sip.Request, tx sip.ServerTransaction, call *Call, cancelled *atomic.Bool) (r offerResult, ctxErr error) {
	s.mu.Lock()
	runCtx := s.runCtx
	s.mu.Unlock()
	if runCtx == nil || runCtx.Err() != nil {
		return offerResult{err: &StatusError{Code: 503, Warning: "shutting down"}}, nil
	}
	ctx, cancel := context.WithTimeout(runCtx, s.cfg.OfferTimeout)
	defer cancel()
	if !tx.OnCancel(func(*sip.Request) { cancelled.Store(true); cancel() }) {
		cancelled.Store(true) // CANCELled before we got here: sipgo answered 487
		return offerResult{err: context.Canceled}, context.Canceled
	}
	p := &pendingOffer{result: make(chan offerResult, 1)}
	if !s.goOffer(func() { s.awaitOffer(ctx, call, req.Body(), p, cancelled) }) {
		return offerResult{err: &StatusError{Code: 503, Warning: "shutting down"}}, nil
	}
	select {
	case r = <-p.result:
	case <-ctx.Done():
		if !p.abandon(&r) {
			r.err = ctx.Err()
		}
	}
	return r, ctx.Err()
}

// pendingOffer hands Handler.Offer's result to onInvite, or, once onInvite gave up on it
// (CANCEL, timeout), makes awaitOffer end a late successful answer so the Handler releases it.
type pendingOffer struct {
	mu        sync.Mutex
	abandoned bool
	result    chan offerResult // capacity 1
}

// abandon takes a result that is already there, or marks the offer abandoned.
func (p *pendingOffer) abandon(r *offerResult) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case *r = <-p.result:
		return true
	default:
		p.abandoned = true
		return false
	}
}

func (s *Server) awaitOffer(ctx context.Context, call *Call, body []byte, p *pendingOffer, cancelled *atomic.Bool) {
	answer, err := s.handler.Offer(ctx, call, body, false)
	p.mu.Lock()
	if !p.abandoned {
		p.result <- offerResult{answer, err}
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	if err == nil {
		reason := "offer timeout"
		if cancelled.Load() {
			reason = "cancelled"
		}
		call.Logger.Info("dialog ended", "reason", reason)
		s.handler.Ended(call.CallID, reason)
	}
}

// accept sends the 200 OK and registers the dialog, whose timers retransmit the 2xx until the
// ACK arrives (RFC 3261 §13.3.1.4; sipgo's transaction leaves that to us, RFC 6026).
//
// A CANCEL can still win until the 200 has left (RFC 3261 §9.2): sipgo then answers 487 and
// keeps retransmitting the transaction's last final response (Timer G), which a 2xx handed to
// it afterwards would replace. So a 2xx is never handed over once the CANCEL is seen, and if
// the CANCEL won during the hand-over the 487 is put back; the dialog retransmits nothing
// until the 200 has gone out.
func (s *Server) accept(req *sip.Request, tx sip.ServerTransaction, call *Call, timer sessionTimer, answer []byte, cancelled *atomic.Bool) {
	res := s.okResponse(req, call, timer, answer)
	if s.tooLargeForUDP(tx, req, call, res) {
		s.handler.Ended(call.CallID, "answer too large")
		return
	}
	if !s.claimAnswer(req) {
		// The CANCEL was handled while the offer was: the client has abandoned this call.
		s.respond(tx, req, 487, reasonPhrase(487), call.Logger)
		s.handler.Ended(call.CallID, "cancelled")
		return
	}
	d := newDialog(s, call, req, timer, answer)
	if !s.register(d, res) {
		// A second INVITE with a live Call-ID is a merged request (RFC 3261 §8.2.2.2).
		call.Logger.Warn("call-id already has a dialog")
		s.respondError(tx, req, &StatusError{Code: 482, Warning: "Call-ID already in use"}, call.Logger)
		s.handler.Ended(call.CallID, "rejected")
		return
	}
	if cancelled.Load() {
		d.end("cancelled")
		return
	}
	err := tx.Respond(res)
	if cancelled.Load() {
		// The CANCEL took the transaction while we handed it the 2xx, which it did not send.
		_ = tx.Respond(sip.NewResponseFromRequest(req, 487, reasonPhrase(487), nil))
		d.end("cancelled")
		return
	}
	if err != nil {
		call.Logger.Warn("200 OK not sent", "error", err)
	}
	d.answered()
	call.Logger.Info("dialog accepted", "remote", call.Remote, "transport", call.Transport)
}

func (s *Server) okResponse(req *sip.Request, call *Call, timer sessionTimer, answer []byte) *sip.Response {
	res := sip.NewResponseFromRequest(req, 200, "OK", answer)
	if to := res.To(); to != nil {
		to.Params.Add("tag", call.ToTag)
	}
	res.AppendHeader(contactFor(req, s.Addr(localTransport(call.Transport)), call.Transport))
	res.AppendHeader(sip.NewHeader("User-Agent", s.cfg.UserAgent))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	res.AppendHeader(sip.NewHeader("Allow", allowed))
	if timer.interval > 0 {
		timer.addTimerHeaders(res, s.cfg.SessionExpires)
	}
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res.AppendHeader(sip.NewHeader("Content-Disposition", "session"))
	return res
}

// localTransport maps a request's transport to the listener that received it.
func localTransport(t string) string {
	if t == "tls" {
		return "tls"
	}
	if t == "tcp" {
		return "tcp"
	}
	return "udp"
}

// checkOffer rejects INVITEs that carry no SDP offer: MRCPv2 needs one (RFC 6787 §4.2).
func checkOffer(req *sip.Request) (int, string) {
	if len(req.Body()) == 0 {
		return 488, "no SDP offer in the INVITE"
	}
	if ct := req.ContentType(); ct != nil {
		mt, _, _ := strings.Cut(ct.Value(), ";")
		if !strings.EqualFold(strings.TrimSpace(mt), "application/sdp") {
			return 415, fmt.Sprintf("unsupported Content-Type %q", ct.Value())
		}
	}
	return 0, ""
}

// respondError answers with the error's SIP code and a Warning naming the reason.
// A 503 says when to try again (RFC 3261 §21.5.4), so that clients back off rather than retry at once.
func (s *Server) respondError(tx sip.ServerTransaction, req *sip.Request, err error, log *slog.Logger, hdrs ...sip.Header) {
	code, text := classify(err)
	if code == 503 {
		hdrs = append(hdrs, sip.NewHeader("Retry-After", retryAfter))
	}
	s.respond(tx, req, code, reasonPhrase(code), log, append(hdrs, warningHeader(text))...)
}

// retryAfter is the Retry-After of every 503, in seconds.
const retryAfter = "5"

// maxUDPMessage is the largest message sipgo sends over UDP (RFC 3261 §18.1.1: 200 bytes under
// a 1500-byte path MTU); it drops a larger one.
var maxUDPMessage = sip.UDPMTUSize - 200

// tooLargeForUDP answers 513 when res cannot travel back over UDP (RFC 3261 §21.5.14), so that
// the client hears why instead of waiting for a 200 that never comes; it should retry over TCP.
func (s *Server) tooLargeForUDP(tx sip.ServerTransaction, req *sip.Request, call *Call, res *sip.Response) bool {
	if call.Transport != "udp" {
		return false
	}
	if n := len(res.String()); n > maxUDPMessage {
		s.cfg.Metrics.refuse("answer-too-large")
		call.Logger.Info("answer too large for UDP", "bytes", n, "max", maxUDPMessage)
		s.respond(tx, req, 513, reasonPhrase(513), call.Logger,
			warningHeader(fmt.Sprintf("the answer is %d bytes, more than %d fit a UDP datagram: use SIP over TCP", n, maxUDPMessage)))
		return true
	}
	return false
}

func reasonPhrase(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 415:
		return "Unsupported Media Type"
	case 513:
		return "Message Too Large"
	case 420:
		return "Bad Extension"
	case 422:
		return "Session Interval Too Small"
	case 480:
		return "Temporarily Unavailable"
	case 481:
		return "Call/Transaction Does Not Exist"
	case 482:
		return "Loop Detected"
	case 486:
		return "Busy Here"
	case 487:
		return "Request Terminated"
	case 488:
		return "Not Acceptable Here"
	case 491:
		return "Request Pending"
	case 500:
		return "Server Internal Error"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Server Time-out"
	}
	if code >= 600 {
		return "Global Failure"
	}
	if code >= 500 {
		return "Server Error"
	}
	return "Request Failure"
}
