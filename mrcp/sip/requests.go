package sip

import (
	"context"
	"log/slog"

	"github.com/emiago/sipgo/sip"
)

// onReinvite answers a re-INVITE of a dialog (RFC 3261 §14.2): a new offer goes to the Handler
// (outside the dialog's lock, so that a Handler may call Bye meanwhile); one without a
// body is a refresh answered with our current SDP. A failed offer leaves the session as it was.
// Unknown dialogs get 481 (§12.2.2), a second re-INVITE while one is answered 491 (§14.2).
func (s *Server) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	d := s.lookup(req)
	if d == nil {
		s.respond(tx, req, 481, reasonPhrase(481), s.log.With("call_id", callID(req)))
		return
	}
	log := d.call.Logger
	s.respond(tx, req, 100, "Trying", log)
	if !d.inOrder(req) {
		s.respondOutOfOrder(tx, req, log)
		return
	}
	if !d.reinviting.CompareAndSwap(false, true) {
		s.respond(tx, req, 491, reasonPhrase(491), log, sip.NewHeader("Retry-After", "1"))
		return
	}
	defer d.reinviting.Store(false)
	timer, err := negotiateTimer(req, s.cfg.SessionExpires)
	if err != nil {
		s.respondError(tx, req, err, log)
		return
	}
	ctx, cancel := context.WithTimeout(s.runCtxOrDone(), s.cfg.OfferTimeout)
	defer cancel()
	d.mu.Lock()
	answer := d.answer
	d.mu.Unlock()
	if body := req.Body(); len(body) > 0 {
		if d.call.Transport == "udp" {
			// Content-Length grows by a few digits with the body.
			room := maxUDPMessage - len(s.okResponse(req, d.call, timer, nil).String()) - 8
			ctx = WithMaxAnswer(ctx, room)
		}
		if answer, err = s.handler.Offer(ctx, d.call, body, true); err != nil {
			if code, _ := classify(err); code == 513 {
				s.cfg.Metrics.refuse("answer-too-large")
			}
			log.Info("re-INVITE offer rejected", "error", err)
			s.respondError(tx, req, err, log)
			return
		}
		d.mu.Lock()
		d.answer = answer
		d.mu.Unlock()
	}
	res := s.okResponse(req, d.call, timer, answer)
	if s.tooLargeForUDP(tx, req, d.call, res) {
		return // a Handler that ignores MaxAnswer keeps the new offer's state
	}
	// The dialog must expect the ACK before the 2xx leaves.
	if !d.reinvited(req, res, timer) {
		s.respond(tx, req, 481, reasonPhrase(481), log)
		return
	}
	// The next re-INVITE may follow the 2xx at once (after its ACK): it is no longer pending.
	d.reinviting.Store(false)
	if err := tx.Respond(res); err != nil {
		log.Warn("re-INVITE 200 not sent", "error", err)
	}
}

// onAck matches the ACK of a 2xx to its dialog; an ACK gets no response (RFC 3261 §17).
func (s *Server) onAck(req *sip.Request, _ sip.ServerTransaction) {
	if d := s.lookup(req); d != nil {
		d.ack(req)
		return
	}
	s.log.Debug("ACK for no dialog", "call_id", callID(req))
}

// onBye answers 200 and ends the dialog (RFC 3261 §15.1.2).
func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if s.rejectBadRequest(req, tx) {
		return
	}
	d := s.lookup(req)
	if d == nil {
		s.respond(tx, req, 481, reasonPhrase(481), s.log.With("call_id", callID(req)))
		return
	}
	if !d.inOrder(req) {
		s.respondOutOfOrder(tx, req, d.call.Logger)
		return
	}
	s.respond(tx, req, 200, "OK", d.call.Logger)
	d.end("bye")
}

// onCancel sees only CANCELs that matched no INVITE transaction (sipgo answers the others with
// 200 and the INVITE with 487): RFC 3261 §9.2 says 481, unless the INVITE it names, handled
// after it, was answered already (cancel.go).
func (s *Server) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	if s.unmatchedCancel(req) {
		s.respond(tx, req, 200, "OK", s.log.With("call_id", callID(req)))
		return
	}
	s.respond(tx, req, 481, reasonPhrase(481), s.log.With("call_id", callID(req)))
}

// onOptions is the health probe of load balancers and mod_unimrcp's profile check.
func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	if s.rejectBadRequest(req, tx) {
		return
	}
	log := s.log.With("call_id", callID(req))
	hdrs := []sip.Header{sip.NewHeader("Allow", allowed), sip.NewHeader("Accept", "application/sdp"),
		sip.NewHeader("Supported", "timer")}
	if s.draining.Load() {
		s.respond(tx, req, 503, "Service Unavailable", log, append(hdrs, sip.NewHeader("Retry-After", "5"))...)
		return
	}
	s.respond(tx, req, 200, "OK", log, hdrs...)
}

// onUpdate refreshes the session timer of a dialog (RFC 4028 §7.4).
func (s *Server) onUpdate(req *sip.Request, tx sip.ServerTransaction) {
	if s.rejectBadRequest(req, tx) {
		return
	}
	d := s.lookup(req)
	if d == nil {
		s.respond(tx, req, 481, reasonPhrase(481), s.log.With("call_id", callID(req)))
		return
	}
	if !d.inOrder(req) {
		s.respondOutOfOrder(tx, req, d.call.Logger)
		return
	}
	if !d.update(req, tx) {
		s.respond(tx, req, 481, reasonPhrase(481), d.call.Logger)
	}
}

// onOther answers every other method: 481 inside an unknown dialog, else 405 with Allow.
func (s *Server) onOther(req *sip.Request, tx sip.ServerTransaction) {
	log := s.log.With("call_id", callID(req))
	if toTag(req) != "" && s.lookup(req) == nil {
		s.respond(tx, req, 481, reasonPhrase(481), log)
		return
	}
	s.respond(tx, req, 405, reasonPhrase(405), log, sip.NewHeader("Allow", allowed))
}

// respondOutOfOrder answers an in-dialog request whose CSeq is not above the last (RFC 3261
// §12.2.2).
func (s *Server) respondOutOfOrder(tx sip.ServerTransaction, req *sip.Request, log *slog.Logger) {
	s.cfg.Metrics.refuse("out-of-order")
	log.Info("request out of order", "method", req.Method, "cseq", req.CSeq().SeqNo)
	s.respondError(tx, req, &StatusError{Code: 500, Warning: "CSeq out of order"}, log)
}
