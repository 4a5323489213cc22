package sip

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/mrcpd/mrcpd/asr/clock"
)

// dialog is one accepted INVITE. It has no goroutine of its own (one per session was 2-8 KB of
// stack each, docs/performance.md): the requests that reach it, on sipgo's goroutines, and its
// timers (the clock's AfterFunc) apply their change under mu, and whatever ends the dialog sends
// the BYE, if one is due, on its own goroutine: Server.Bye's, the timer's, Run's at shutdown.
type dialog struct {
	s    *Server
	call *Call

	reinviting atomic.Bool // a re-INVITE is being answered (RFC 3261 §14.2: one at a time)

	mu         sync.Mutex
	answer     []byte // our current SDP, for a re-INVITE without an offer
	remoteCSeq uint32 // the highest CSeq of the client's requests (RFC 3261 §12.2.2)
	// ended is set by whatever ends the dialog, once; nothing below changes afterwards, so the
	// one ending it reads them without mu.
	ended        bool
	remoteTarget sip.Uri  // the client's Contact, else its From URI (mod_unimrcp sends no Contact)
	remoteURI    sip.Uri  // the client's From: our To
	localURI     sip.Uri  // the INVITE's To: our From
	dest         string   // where our requests go: the INVITE's source (its TCP connection, or UDP rport)
	routes       []string // the route set: the INVITE's Record-Route values in order (RFC 3261 §12.1.1)
	timer        sessionTimer
	localCSeq    uint32
	pending      *sip.Response // a 2xx awaiting its ACK
	pendingCSeq  uint32
	interval     time.Duration // the next 2xx retransmission's wait
	timers       [timerKinds]dialogTimer
}

func newDialog(s *Server, call *Call, req *sip.Request, timer sessionTimer, answer []byte) *dialog {
	d := &dialog{s: s, call: call, dest: req.Source(), timer: timer, answer: answer, localCSeq: 1}
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

// timerKind names a dialog's timers: the RFC 3261 §13.3.1.4 2xx retransmission and ACK wait and
// the RFC 4028 session expiry.
type timerKind int

const (
	timerRetransmit timerKind = iota
	timerAckTimeout
	timerExpiry
	timerKinds
)

// dialogTimer is one pending timer; gen tells a callback that was already under way when the
// timer was stopped or re-armed that it is stale.
type dialogTimer struct {
	t   clock.Timer
	gen uint64
}

// arm (re)starts timer k; mu is held.
func (d *dialog) arm(k timerKind, after time.Duration) {
	d.disarm(k)
	gen := d.timers[k].gen
	d.timers[k].t = d.s.clock.AfterFunc(after, func() { d.fire(k, gen) })
}

// disarm stops timer k; mu is held.
func (d *dialog) disarm(k timerKind) {
	tm := &d.timers[k]
	if tm.t != nil {
		tm.t.Stop()
		tm.t = nil
	}
	tm.gen++
}

// start begins the dialog with its INVITE's 2xx about to leave.
func (d *dialog) start(ok *sip.Response) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pending = ok
	if c := ok.CSeq(); c != nil {
		d.pendingCSeq = c.SeqNo
	}
	d.refresh()
}

// awaitAck starts retransmitting the pending 2xx (UDP only) and the 64*T1 wait for its ACK; mu
// is held.
func (d *dialog) awaitAck() {
	d.interval = d.s.cfg.T1
	if d.call.Transport == "udp" {
		d.arm(timerRetransmit, d.interval)
	}
	d.arm(timerAckTimeout, 64*d.s.cfg.T1)
}

// refresh restarts the session expiry after a refresh (RFC 4028 §10); mu is held.
func (d *dialog) refresh() {
	d.disarm(timerExpiry)
	if d.timer.interval > 0 {
		d.arm(timerExpiry, d.timer.expiry())
	}
}

// fire runs timer k's action unless the dialog ended or the timer was re-armed meanwhile.
func (d *dialog) fire(k timerKind, gen uint64) {
	d.mu.Lock()
	if d.ended || d.timers[k].gen != gen {
		d.mu.Unlock()
		return
	}
	d.timers[k].t = nil
	switch {
	case k == timerRetransmit && d.pending != nil:
		res := d.pending
		d.interval = min(2*d.interval, sip.T2) // T1, 2*T1, ... capped at T2
		d.arm(timerRetransmit, d.interval)
		d.mu.Unlock()
		if err := d.s.srv.WriteResponse(res); err != nil {
			d.call.Logger.Warn("2xx retransmission failed", "error", err)
		}
	case k == timerAckTimeout && d.pending != nil:
		d.endLocked()
		d.mu.Unlock()
		d.call.Logger.Warn("no ACK for 2xx", "after", 64*d.s.cfg.T1)
		_ = d.sendBye(context.Background(), 64*d.s.cfg.T1)
		d.finish("ack timeout")
	case k == timerExpiry:
		d.endLocked()
		d.mu.Unlock()
		d.call.Logger.Warn("session timer expired without refresh", "interval", d.timer.interval)
		_ = d.sendBye(context.Background(), 64*d.s.cfg.T1)
		d.finish("session expired")
	default:
		d.mu.Unlock()
	}
}

// endLocked claims the end of the dialog: no request or timer changes it afterwards. mu is held.
func (d *dialog) endLocked() {
	d.ended = true
	for k := range d.timers {
		d.disarm(timerKind(k))
	}
}

// claim is endLocked for a caller without mu; false if the dialog has ended already.
func (d *dialog) claim() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ended {
		return false
	}
	d.endLocked()
	return true
}

// finish takes a claimed dialog off the server and tells the Handler.
func (d *dialog) finish(reason string) {
	d.s.unregister(d)
	d.call.Logger.Info("dialog ended", "reason", reason)
	d.s.handler.Ended(d.call.CallID, reason)
	d.s.wg.Done()
}

// end ends the dialog without a BYE of ours: the client's BYE (already answered 200, RFC 3261
// §15.1.2) or a CANCEL that won.
func (d *dialog) end(reason string) {
	if d.claim() {
		d.finish(reason)
	}
}

// ack matches the ACK of the pending 2xx (RFC 3261 §13.3.1.4).
func (d *dialog) ack(req *sip.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.ended && d.pending != nil && req.CSeq() != nil && req.CSeq().SeqNo == d.pendingCSeq {
		d.pending = nil
		d.disarm(timerRetransmit)
		d.disarm(timerAckTimeout)
	}
}

// answered says the INVITE's 2xx has left: retransmit it until the ACK, unless that came first.
func (d *dialog) answered() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.ended && d.pending != nil {
		d.awaitAck()
	}
}

// reinvited takes a re-INVITE's 2xx about to leave: await its ACK and restart the session timer
// (RFC 3261 §14.2, RFC 4028). False once the dialog has ended.
func (d *dialog) reinvited(req *sip.Request, res *sip.Response, timer sessionTimer) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ended {
		return false
	}
	if c := req.Contact(); c != nil {
		d.remoteTarget = c.Address // target refresh (RFC 3261 §12.2.2)
	}
	d.timer = timer
	d.pending, d.pendingCSeq = res, req.CSeq().SeqNo
	d.awaitAck()
	d.refresh()
	return true
}

// bye ends the dialog from our side (Server.Bye): the BYE's response, or ctx, ends the wait; the
// BYE's transaction runs its course either way, and the Handler hears "bye sent" once it has.
func (d *dialog) bye(ctx context.Context) error {
	if !d.claim() {
		return fmt.Errorf("%w: %s", ErrNoDialog, d.call.CallID)
	}
	done := make(chan error, 1)
	go func() {
		err := d.sendBye(context.Background(), 64*d.s.cfg.T1)
		d.finish("bye sent")
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shutdown ends the dialog as the server stops: BYE, waited for 2 s.
func (d *dialog) shutdown() {
	if d.claim() {
		go func() {
			_ = d.sendBye(context.Background(), 2*time.Second)
			d.finish("shutdown")
		}()
	}
}

// update answers a session refresh by UPDATE (RFC 4028 §7.4; RFC 3311); false once the dialog
// has ended. The expiry restarts whatever the answer, as it always has.
func (d *dialog) update(req *sip.Request, tx sip.ServerTransaction) bool {
	var err error
	timer := sessionTimer{}
	if len(req.Body()) > 0 {
		err = &StatusError{Code: 488, Warning: "UPDATE with an SDP offer is not supported; use re-INVITE"}
	} else {
		timer, err = negotiateTimer(req, d.s.cfg.SessionExpires)
	}
	d.mu.Lock()
	if d.ended {
		d.mu.Unlock()
		return false
	}
	if err == nil {
		d.timer = timer
	}
	d.refresh()
	d.mu.Unlock()
	if err != nil {
		d.s.respondError(tx, req, err, d.call.Logger)
		return true
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("User-Agent", d.s.cfg.UserAgent))
	if timer.interval > 0 {
		timer.addTimerHeaders(res, d.s.cfg.SessionExpires)
	}
	if err := tx.Respond(res); err != nil {
		d.call.Logger.Warn("UPDATE 200 not sent", "error", err)
	}
	return true
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
