package sip

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

type eventKind int

const (
	evAck       eventKind = iota // ACK for a 2xx we sent (RFC 3261 §13.3.1.4)
	evBye                        // the client's BYE, already answered 200 (§15.1.2)
	evReinvite                   // re-INVITE answered 2xx: await its ACK, refresh (§14.2, RFC 4028)
	evUpdate                     // UPDATE: session refresh (RFC 4028 §7)
	evLocalBye                   // Server.Bye
	evCancelled                  // the INVITE was CANCELled as we answered it
	evAnswered                   // the INVITE's 2xx has left: retransmit it until the ACK
)

type dialogEvent struct {
	kind eventKind
	req  *sip.Request
	tx   sip.ServerTransaction
	ctx  context.Context
	done chan error // closed or sent once the event is handled

	res   *sip.Response // evReinvite: the 2xx about to be sent
	timer sessionTimer  // evReinvite: the renegotiated session timer
}

// dialog is one accepted INVITE. Its goroutine (run) owns everything below events; other
// goroutines only post events.
type dialog struct {
	s      *Server
	call   *Call
	events chan dialogEvent
	done   chan struct{} // closed when run has returned

	reinviting atomic.Bool // a re-INVITE is being answered (RFC 3261 §14.2: one at a time)
	mu         sync.Mutex
	answer     []byte // our current SDP, for a re-INVITE without an offer
	remoteCSeq uint32 // the highest CSeq of the client's requests (RFC 3261 §12.2.2)

	// Owned by run.
	remoteTarget sip.Uri  // the client's Contact, else its From URI (mod_unimrcp sends no Contact)
	remoteURI    sip.Uri  // the client's From: our To
	localURI     sip.Uri  // the INVITE's To: our From
	dest         string   // where our requests go: the INVITE's source (its TCP connection, or UDP rport)
	routes       []string // the route set: the INVITE's Record-Route values in order (RFC 3261 §12.1.1)
	timer        sessionTimer
	localCSeq    uint32
	pending      *sip.Response // a 2xx awaiting its ACK
	pendingCSeq  uint32
}

func newDialog(s *Server, call *Call, req *sip.Request, timer sessionTimer, answer []byte) *dialog {
	d := &dialog{s: s, call: call, events: make(chan dialogEvent, 8), done: make(chan struct{}),
		dest: req.Source(), timer: timer, answer: answer, localCSeq: 1}
	if f := req.From(); f != nil {
		d.remoteURI, d.remoteTarget = f.Address, f.Address
	}
	if t := req.To(); t != nil {
		d.localURI = t.Address
	}
	if c := req.Contact(); c != nil {
		d.remoteTarget = c.Address
	}
	if c := req.CSeq(); c != nil {
		d.remoteCSeq = c.SeqNo
	}
	for _, h := range req.GetHeaders("Record-Route") {
		d.routes = append(d.routes, h.Value())
	}
	return d
}

// inOrder takes the CSeq of an in-dialog request: one not above the last is out of order
// (RFC 3261 §12.2.2: 500). A retransmission never gets here; sipgo's transaction absorbs it.
func (d *dialog) inOrder(req *sip.Request) bool {
	c := req.CSeq()
	if c == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c.SeqNo <= d.remoteCSeq {
		return false
	}
	d.remoteCSeq = c.SeqNo
	return true
}

// post hands an event to the dialog goroutine; false when the dialog has ended.
func (d *dialog) post(ev dialogEvent) bool {
	select {
	case d.events <- ev:
		return true
	case <-d.done:
		return false
	}
}

// request posts an event and waits until the dialog handled it, ctx ends the wait (ctx.Err()).
func (d *dialog) request(ctx context.Context, ev dialogEvent) (bool, error) {
	ev.done = make(chan error, 1)
	select {
	case d.events <- ev:
	case <-d.done:
		return false, nil
	case <-ctx.Done():
		return true, ctx.Err()
	}
	select {
	case err := <-ev.done:
		return true, err
	case <-d.done:
		return false, nil
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

func (d *dialog) bye(ctx context.Context) error {
	ok, err := d.request(ctx, dialogEvent{kind: evLocalBye, ctx: ctx})
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoDialog, d.call.CallID)
	}
	return err
}

// run is the dialog's life. ok is the 200 OK of the INVITE, retransmitted over UDP until the ACK.
func (d *dialog) run(ctx context.Context, ok *sip.Response) {
	defer d.s.wg.Done()
	reason := d.loop(ctx, ok)
	d.s.unregister(d)
	close(d.done)
	d.call.Logger.Info("dialog ended", "reason", reason)
	d.s.handler.Ended(d.call.CallID, reason)
}

// dialogTimers are the RFC 3261 §13.3.1.4 2xx retransmission and ACK timers and the RFC 4028
// session expiry of one dialog; only its goroutine touches them.
type dialogTimers struct {
	t1, interval                   time.Duration
	udp                            bool
	retransmit, ackTimeout, expiry *time.Timer
}

func newDialogTimers(t1 time.Duration, udp bool) *dialogTimers {
	return &dialogTimers{t1: t1, interval: t1, udp: udp,
		retransmit: newStoppedTimer(), ackTimeout: newStoppedTimer(), expiry: newStoppedTimer()}
}

// awaitAck starts retransmitting a 2xx (UDP only) and the 64*T1 wait for its ACK.
func (tm *dialogTimers) awaitAck() {
	tm.interval = tm.t1
	if tm.udp {
		tm.retransmit.Reset(tm.interval)
	}
	tm.ackTimeout.Reset(64 * tm.t1)
}

func (tm *dialogTimers) acked() {
	tm.retransmit.Stop()
	tm.ackTimeout.Stop()
}

// backoff schedules the next retransmission: T1, 2*T1, ... capped at T2.
func (tm *dialogTimers) backoff() {
	tm.interval = min(2*tm.interval, sip.T2)
	tm.retransmit.Reset(tm.interval)
}

// refresh restarts the session expiry after a refresh (RFC 4028 §10).
func (tm *dialogTimers) refresh(st sessionTimer) {
	tm.expiry.Stop()
	if st.interval > 0 {
		tm.expiry.Reset(st.expiry())
	}
}

func (tm *dialogTimers) stop() {
	tm.retransmit.Stop()
	tm.ackTimeout.Stop()
	tm.expiry.Stop()
}

func (d *dialog) loop(ctx context.Context, ok *sip.Response) string {
	tm := newDialogTimers(d.s.cfg.T1, d.call.Transport == "udp")
	defer tm.stop()
	d.pending = ok
	if c := ok.CSeq(); c != nil {
		d.pendingCSeq = c.SeqNo
	}
	tm.refresh(d.timer)
	for {
		select {
		case <-ctx.Done():
			d.sendBye(context.Background(), 2*time.Second)
			return "shutdown"
		case <-tm.retransmit.C:
			if d.pending != nil {
				if err := d.s.srv.WriteResponse(d.pending); err != nil {
					d.call.Logger.Warn("2xx retransmission failed", "error", err)
				}
				tm.backoff()
			}
		case <-tm.ackTimeout.C:
			if d.pending != nil {
				d.call.Logger.Warn("no ACK for 2xx", "after", 64*tm.t1)
				d.sendBye(ctx, 64*tm.t1)
				return "ack timeout"
			}
		case <-tm.expiry.C:
			d.call.Logger.Warn("session timer expired without refresh", "interval", d.timer.interval)
			d.sendBye(ctx, 64*tm.t1)
			return "session expired"
		case ev := <-d.events:
			if reason, end := d.handle(ctx, ev, tm); end {
				return reason
			}
		}
	}
}

// handle applies one event; end says the dialog is over, for reason.
func (d *dialog) handle(ctx context.Context, ev dialogEvent, tm *dialogTimers) (reason string, end bool) {
	switch ev.kind {
	case evAck:
		if d.pending != nil && ev.req.CSeq() != nil && ev.req.CSeq().SeqNo == d.pendingCSeq {
			d.pending = nil
			tm.acked()
		}
	case evBye:
		return "bye", true
	case evCancelled:
		return "cancelled", true
	case evAnswered:
		if d.pending != nil { // else the ACK came first
			tm.awaitAck()
		}
	case evLocalBye:
		bctx, cancel := context.WithCancel(ev.ctx)
		err := d.sendBye(bctx, 64*tm.t1)
		cancel()
		ev.done <- err
		return "bye sent", true
	case evReinvite:
		if c := ev.req.Contact(); c != nil {
			d.remoteTarget = c.Address // target refresh (RFC 3261 §12.2.2)
		}
		d.timer = ev.timer
		d.pending, d.pendingCSeq = ev.res, ev.req.CSeq().SeqNo
		tm.awaitAck()
		tm.refresh(d.timer)
		close(ev.done)
	case evUpdate:
		d.update(ev.req, ev.tx)
		tm.refresh(d.timer)
		close(ev.done)
	}
	return "", false
}

// update answers a session refresh by UPDATE (RFC 4028 §7.4; RFC 3311).
func (d *dialog) update(req *sip.Request, tx sip.ServerTransaction) {
	if len(req.Body()) > 0 {
		d.s.respondError(tx, req, &StatusError{Code: 488, Warning: "UPDATE with an SDP offer is not supported; use re-INVITE"}, d.call.Logger)
		return
	}
	timer, err := negotiateTimer(req, d.s.cfg.SessionExpires)
	if err != nil {
		d.s.respondError(tx, req, err, d.call.Logger)
		return
	}
	d.timer = timer
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("User-Agent", d.s.cfg.UserAgent))
	if timer.interval > 0 {
		timer.addTimerHeaders(res, d.s.cfg.SessionExpires)
	}
	if err := tx.Respond(res); err != nil {
		d.call.Logger.Warn("UPDATE 200 not sent", "error", err)
	}
}

// sendBye ends the dialog from our side (RFC 3261 §15.1.1) and waits for the response.
func (d *dialog) sendBye(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	req := sip.NewRequest(sip.BYE, d.remoteTarget)
	from := &sip.FromHeader{Address: d.localURI, Params: sip.NewParams()}
	from.Params.Add("tag", d.call.ToTag)
	to := &sip.ToHeader{Address: d.remoteURI, Params: sip.NewParams()}
	to.Params.Add("tag", d.call.FromTag)
	cid := sip.CallIDHeader(d.call.CallID)
	d.localCSeq++
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: d.localCSeq, MethodName: sip.BYE})
	req.AppendHeader(&maxFwd)
	req.AppendHeader(sip.NewHeader("User-Agent", d.s.cfg.UserAgent))
	for _, r := range d.routes {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	req.SetTransport(strings.ToUpper(d.call.Transport))
	req.SetDestination(d.dest)
	req.SetBody(nil)
	res, err := d.s.client.Do(ctx, req)
	if err != nil {
		d.call.Logger.Warn("BYE failed", "error", err)
		return fmt.Errorf("sip: BYE %s: %w", d.call.CallID, err)
	}
	d.call.Logger.Info("BYE answered", "code", res.StatusCode)
	return nil
}

func newStoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}
