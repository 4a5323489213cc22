package server

import (
	"context"
	"maps"
	"slices"

	"github.com/mrcpd/mrcpd/mrcp/sdp"
	"github.com/mrcpd/mrcpd/mrcp/sip"
)

// A re-INVITE whose answer is refused (a later m-line's 4xx, or 513 because the answer would not
// fit the UDP datagram it must travel in) leaves the session as the client believes it is: on
// the previous offer (RFC 3261 §14.2: a failed re-INVITE changes nothing). What the re-offer
// added is released, what it changed is put back, and what it removed is removed only once the
// answer is accepted.

// offerState is what a re-offer may change.
type offerState struct {
	version  uint64
	existing bool
	channels map[string]*channel
	media    []*endpoint
	eps      map[*endpoint]endpoint
	removals []func() // port-0 removals, run on commit
}

// reoffer handles a re-INVITE (session refresh, channel removal with port 0, channel addition).
func (se *session) reoffer(ctx context.Context, o *sdp.Offer) ([]byte, error) {
	st := &offerState{version: se.sdpVersion, existing: se.existing, channels: maps.Clone(se.channels),
		media: slices.Clone(se.media), eps: map[*endpoint]endpoint{}}
	for _, ep := range se.media {
		st.eps[ep] = *ep
	}
	se.pending = st
	defer func() { se.pending = nil }()
	se.sdpVersion++
	answer, err := se.answer(o)
	if err == nil {
		if limit, ok := sip.MaxAnswer(ctx); ok && len(answer) > limit {
			err = sip.Errorf(513, nil, "the answer is %d bytes, more than the %d that fit a UDP datagram beside its headers: use SIP over TCP", len(answer), limit)
		}
	}
	if err != nil {
		se.undo(st)
		return nil, err
	}
	for _, f := range st.removals {
		f()
	}
	return answer, nil
}

// removeLater runs f at once, or when the re-offer being answered is accepted.
func (se *session) removeLater(f func()) {
	if se.pending != nil {
		se.pending.removals = append(se.pending.removals, f)
		return
	}
	f()
}

// undo releases what a refused re-offer added and restores what it changed.
func (se *session) undo(st *offerState) {
	for id, ch := range se.channels {
		if st.channels[id] == nil {
			se.removeChannel(ch)
		}
	}
	var added []*endpoint
	for _, ep := range se.media {
		if _, ok := st.eps[ep]; !ok {
			added = append(added, ep)
		}
	}
	for _, ep := range added {
		se.closeEndpoint(ep)
	}
	for ep, v := range st.eps {
		*ep = v
	}
	se.media, se.sdpVersion, se.existing = st.media, st.version, st.existing
}
