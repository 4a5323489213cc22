package esl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// supervise owns reconnection. It watches the live connection (heartbeat,
// FreeSWITCH's lost-events notices) and, whatever killed it (EOF, reset, read or
// write timeout, heartbeat timeout, disconnect notice, protocol error),
// reconnects with exponential backoff and then re-checks every tracked call.
func (c *Client) supervise(cn *conn) {
	defer c.wg.Done()
	ctx, cancel := c.background()
	defer cancel()
	for {
		c.watch(ctx, cn)
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("esl: connection lost, reconnecting", "err", cn.failure())
		c.markDown(cn)
		next := c.reconnect(ctx)
		if next == nil {
			return
		}
		cn = next
		c.metrics.reconnects.Inc()
		c.resyncAll(ctx, cn, "reconnect")
	}
}

func (c *Client) watch(ctx context.Context, cn *conn) {
	for {
		var tick <-chan time.Time
		if c.cfg.HeartbeatInterval > 0 {
			tick = c.clock.After(c.cfg.HeartbeatInterval)
		}
		select {
		case <-cn.done:
			return
		case <-ctx.Done():
			return
		case reason := <-c.resyncq:
			c.resyncAll(ctx, cn, reason)
		case <-tick:
			if err := c.heartbeat(ctx, cn); err != nil {
				cn.fail(fmt.Errorf("%w: %w", ErrHeartbeat, err))
				return
			}
		}
	}
}

// heartbeat: a connection can stay open while FreeSWITCH no longer answers
// (half-open TCP, a wedged process); only a command with a deadline finds out.
func (c *Client) heartbeat(parent context.Context, cn *conn) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	timer := c.clock.After(c.cfg.HeartbeatTimeout)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		select {
		case <-timer:
			cancel()
		case <-ctx.Done():
		}
	}()
	_, err := cn.send(ctx, "api status")
	return err
}

func (c *Client) reconnect(ctx context.Context) *conn {
	backoff := c.cfg.BackoffMin
	for {
		select {
		case <-c.clock.After(backoff):
		case <-ctx.Done():
			return nil
		}
		cn, err := c.connect(ctx)
		if err == nil {
			c.log.Info("esl: reconnected", "addr", c.cfg.Addr)
			return cn
		}
		var ae *AuthError
		if errors.As(err, &ae) {
			c.log.Error("esl: reconnect refused: wrong password", "reply", ae.Reply)
		} else {
			c.log.Warn("esl: reconnect failed", "err", err, "retry_in", backoff)
		}
		backoff *= 2
		if backoff > c.cfg.BackoffMax {
			backoff = c.cfg.BackoffMax
		}
	}
}

// resyncAll re-reads the state of every tracked call. Events for them may have
// been lost, so waiting executes and background jobs are settled here: an
// originate whose channel exists succeeded; anything else gets ErrReconnected
// (or ErrCallGone) because its outcome cannot be known.
func (c *Client) resyncAll(ctx context.Context, cn *conn, reason string) {
	c.metrics.resyncs.WithLabelValues(reason).Inc()
	c.mu.Lock()
	calls := make([]*Call, 0, len(c.calls))
	for _, call := range c.calls {
		calls = append(calls, call)
	}
	jobs := make(map[string]*waiter, len(c.jobs))
	originating := map[string]bool{} // calls whose originate has not returned yet
	for id, w := range c.jobs {
		if w.callUUID != "" {
			originating[w.callUUID] = true
		}
		if w.cn != cn { // sent on a dead connection
			jobs[id] = w
		}
	}
	c.mu.Unlock()

	alive := map[string]bool{}
	check := func(uuid string) bool {
		if v, ok := alive[uuid]; ok {
			return v
		}
		m, err := cn.send(ctx, "api uuid_exists "+uuid)
		if err != nil {
			// Unknown, not gone: this connection failed too, and the next
			// reconnect's resync will ask again.
			return true
		}
		v := strings.TrimSpace(string(m.Body)) == "true"
		alive[uuid] = v
		return v
	}
	for _, call := range calls {
		switch {
		case originating[call.UUID] || call.originating.Load():
			// Not known to exist yet (its originate may still be on its
			// way): the job's outcome below decides, not its absence.
		case check(call.UUID):
			c.resyncCall(ctx, cn, call, reason)
		default:
			c.callGone(call, reason)
		}
	}
	for id, w := range jobs {
		if w.callUUID != "" && check(w.callUUID) {
			// The call exists, but its events during the gap are lost.
			c.mu.Lock()
			call := c.calls[w.callUUID]
			c.mu.Unlock()
			if call != nil {
				c.resyncCall(ctx, cn, call, reason)
			}
			w.deliver(result{ev: &Event{Name: EventBackgroundJob, Headers: map[string]string{"Job-UUID": id},
				Body: "+OK " + w.callUUID + "\n"}})
			continue
		}
		w.deliver(result{err: fmt.Errorf("%w (%s)", ErrReconnected, w.what)})
	}
}

func (c *Client) resyncCall(ctx context.Context, cn *conn, call *Call, reason string) {
	var dump []byte
	if m, err := cn.send(ctx, "api uuid_dump "+call.UUID+" json"); err == nil {
		dump = m.Body
	}
	for _, w := range c.takeApps(call.UUID, cn) {
		w.deliver(result{err: fmt.Errorf("%w (%s)", ErrReconnected, w.what)})
	}
	call.mb.push(resyncEvent(call.UUID, dump, reason))
}

// resyncEvent carries a channel's state as uuid_dump reported it.
func resyncEvent(uuid string, dump []byte, reason string) *Event {
	hdr := map[string]string{}
	var m map[string]any
	if json.Unmarshal(dump, &m) == nil {
		for k, v := range m {
			if s, ok := v.(string); ok {
				hdr[k] = s
			}
		}
	}
	hdr["Resync-Reason"] = reason
	return &Event{Name: EventResync, UniqueID: uuid, Headers: hdr}
}

func (c *Client) callGone(call *Call, reason string) {
	for _, w := range c.takeApps(call.UUID, nil) {
		w.deliver(result{err: fmt.Errorf("%w: %s", ErrCallGone, w.what)})
	}
	call.mb.push(&Event{Name: EventGone, UniqueID: call.UUID, Headers: map[string]string{
		"Resync-Reason": reason, "Hangup-Cause": "UNKNOWN"}})
}

// takeApps removes the call's execute waiters, except those sent on keep
// (commands already written on the new connection are still in good standing).
func (c *Client) takeApps(uuid string, keep *conn) []*waiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ws []*waiter
	for id, w := range c.apps {
		if w.callUUID == uuid && (keep == nil || w.cn != keep) {
			ws = append(ws, w)
			delete(c.apps, id)
		}
	}
	return ws
}
