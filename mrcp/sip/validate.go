package sip

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// extensions are the option tags this agent implements (RFC 3261 §19.2): session timers
// (RFC 4028). Any other tag in a Require gets 420.
var extensions = map[string]bool{"timer": true}

// rejection is a request refused before it reaches a dialog or the Handler.
type rejection struct {
	code    int
	reason  string // the metric's label
	warning string
	hdrs    []sip.Header
}

// checkRequest applies the checks of RFC 3261 §8.2 that come before any processing: the
// headers every request must carry (§8.1.1: a request without them cannot be matched to a
// dialog, nor answered in one, so 400), and Require naming an extension we do not
// implement (§8.2.2.3: 420 with Unsupported listing them). Via and CSeq are checked by sipgo,
// which answers their absence with a stateless 400.
func checkRequest(req *sip.Request) *rejection {
	for _, h := range []struct {
		name    string
		missing bool
	}{{"Call-ID", req.CallID() == nil || req.CallID().Value() == ""}, {"From", req.From() == nil}, {"To", req.To() == nil}} {
		if h.missing {
			return &rejection{code: 400, reason: "bad-request", warning: "missing " + h.name + " header"}
		}
	}
	if req.IsAck() || req.IsCancel() { // §8.2.2.3: Require does not apply to them
		return nil
	}
	var unknown []string
	for _, h := range req.GetHeaders("Require") {
		for _, opt := range strings.Split(h.Value(), ",") {
			if opt = strings.TrimSpace(opt); opt != "" && !extensions[strings.ToLower(opt)] {
				unknown = append(unknown, opt)
			}
		}
	}
	if len(unknown) > 0 {
		list := strings.Join(unknown, ", ")
		return &rejection{code: 420, reason: "bad-extension", warning: "unsupported extension " + list,
			hdrs: []sip.Header{sip.NewHeader("Unsupported", list)}}
	}
	return nil
}

// rejectBadRequest answers a request checkRequest refuses; false when the request is fine.
func (s *Server) rejectBadRequest(req *sip.Request, tx sip.ServerTransaction) bool {
	r := checkRequest(req)
	if r == nil {
		return false
	}
	s.cfg.Metrics.refuse(r.reason)
	log := s.log.With("call_id", callID(req))
	log.Info("request rejected", "method", req.Method, "code", r.code, "reason", r.warning)
	s.respond(tx, req, r.code, reasonPhrase(r.code), log, append(r.hdrs, warningHeader(r.warning))...)
	return true
}
