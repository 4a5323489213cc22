package sip

import (
	"time"

	"github.com/emiago/sipgo/sip"
)

// sipgo handles each datagram on a goroutine of its own, so a CANCEL sent right behind its INVITE
// (clients do) can be handled before the INVITE's transaction exists. It then matched nothing and
// got 481 (RFC 3261 §9.2), and the INVITE, handled a moment later, was answered 200 for a call its
// client had abandoned (15% of the CANCELs in TestE2EChurn). So the CANCELs and answers of the
// last 64*T1 (the life of an INVITE transaction) are remembered by Call-ID and branch, and each
// side sees the other under one lock: an INVITE whose CANCEL came first is answered 487, and a
// CANCEL whose INVITE was already answered 200 gets 200 (it matched a transaction that had
// ended; the client sends BYE, §9.1).

// maxEarly bounds what the table holds: answers of busy servers and unmatched CANCELs alike.
const maxEarly = 16384

type cancelKey struct{ callID, branch string }

type earlyEntry struct {
	at       time.Time
	answered bool // the INVITE was answered 200; otherwise a CANCEL came first
}

func cancelKeyOf(req *sip.Request) (cancelKey, bool) {
	via := req.Via()
	if via == nil {
		return cancelKey{}, false
	}
	b, ok := via.Params.Get("branch")
	if !ok || b == "" {
		return cancelKey{}, false
	}
	return cancelKey{callID(req), b}, true
}

// unmatchedCancel records a CANCEL that matched no INVITE transaction; it reports whether that
// INVITE had been answered 200 meanwhile (the CANCEL gets 200 then, 481 otherwise).
func (s *Server) unmatchedCancel(req *sip.Request) (answered bool) {
	k, ok := cancelKeyOf(req)
	if !ok {
		return false
	}
	s.cancelMu.Lock()
	defer s.cancelMu.Unlock()
	if e, found := s.early[k]; found && e.answered {
		return true
	}
	s.putEarly(k, earlyEntry{at: time.Now()})
	return false
}

// claimAnswer says whether INVITE req may be answered 200: false when its CANCEL came first.
// Once it returns true a CANCEL for req is answered 200.
func (s *Server) claimAnswer(req *sip.Request) bool {
	k, ok := cancelKeyOf(req)
	if !ok {
		return true
	}
	s.cancelMu.Lock()
	defer s.cancelMu.Unlock()
	if e, found := s.early[k]; found && !e.answered && time.Since(e.at) <= 64*s.cfg.T1 {
		delete(s.early, k)
		return false
	}
	s.putEarly(k, earlyEntry{at: time.Now(), answered: true})
	return true
}

// cancelledEarly reports a CANCEL for INVITE req handled before it, which it forgets.
func (s *Server) cancelledEarly(req *sip.Request) bool {
	k, ok := cancelKeyOf(req)
	if !ok {
		return false
	}
	s.cancelMu.Lock()
	defer s.cancelMu.Unlock()
	e, found := s.early[k]
	if !found || e.answered {
		return false
	}
	delete(s.early, k)
	return time.Since(e.at) <= 64*s.cfg.T1
}

// putEarly stores e, dropping entries older than 64*T1 when the table is full; s.cancelMu is held.
func (s *Server) putEarly(k cancelKey, e earlyEntry) {
	if s.early == nil {
		s.early = map[cancelKey]earlyEntry{}
	}
	if len(s.early) >= maxEarly {
		for k, old := range s.early {
			if e.at.Sub(old.at) > 64*s.cfg.T1 {
				delete(s.early, k)
			}
		}
		if len(s.early) >= maxEarly {
			return
		}
	}
	s.early[k] = e
}
