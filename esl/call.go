package esl

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
)

// Call is one channel the client tracks: its events, in Event-Sequence order, go
// to its own mailbox, and applications run on it complete when the
// CHANNEL_EXECUTE_COMPLETE with their Application-UUID arrives.
type Call struct {
	UUID string
	c    *Client
	mb   *mailbox
	// originating is set while Originate has not returned: the channel may
	// not exist yet, and a resync must not call it gone.
	originating atomic.Bool
}

// Track starts routing a channel's events to a Call. Originate does this before
// the channel exists, so no event of a new call is missed.
func (c *Client) Track(uuid string) *Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	if call, ok := c.calls[uuid]; ok {
		return call
	}
	call := &Call{UUID: uuid, c: c, mb: newMailbox(c.cfg.MailboxSize, c.metrics)}
	if c.closed {
		call.mb.close()
		return call
	}
	c.calls[uuid] = call
	return call
}

// Release stops tracking the call and closes its mailbox.
func (call *Call) Release() {
	c := call.c
	c.mu.Lock()
	if c.calls[call.UUID] == call {
		delete(c.calls, call.UUID)
	}
	c.mu.Unlock()
	call.mb.close()
}

// Next returns the call's next event, in order.
func (call *Call) Next(ctx context.Context) (*Event, error) {
	return call.mb.next(ctx, call.UUID)
}

// Poll returns the call's next event if one is queued, without waiting.
func (call *Call) Poll() *Event { return call.mb.poll(call.UUID) }

// Execute runs a dialplan application on the channel and waits for its
// CHANNEL_EXECUTE_COMPLETE. The Event-UUID is ours and registered before the
// sendmsg is written.
func (call *Call) Execute(ctx context.Context, app, arg string) (*Event, error) {
	wait, err := call.Start(ctx, app, arg)
	if err != nil {
		return nil, err
	}
	return wait(ctx)
}

// Start queues an application and returns a function that waits for it, so a
// caller can, for example, start a playback and break it later.
func (call *Call) Start(ctx context.Context, app, arg string) (func(context.Context) (*Event, error), error) {
	if err := checkToken(app); err != nil {
		return nil, err
	}
	if strings.ContainsRune(arg, 0) {
		return nil, fmt.Errorf("%w: NUL in %s argument", ErrInvalidValue, app)
	}
	c := call.c
	cn, err := c.conn(ctx)
	if err != nil {
		return nil, err
	}
	id := NewUUID()
	w := &waiter{ch: make(chan result, 1), callUUID: call.UUID, what: app, cn: cn}
	c.mu.Lock()
	c.apps[id] = w
	c.mu.Unlock()
	unregister := func() {
		c.mu.Lock()
		delete(c.apps, id)
		c.mu.Unlock()
	}
	m, err := cn.sendWire(ctx, buildExecute(call.UUID, app, arg, id))
	if err != nil {
		unregister()
		return nil, err
	}
	if !strings.HasPrefix(m.ReplyText(), "+OK") {
		unregister()
		return nil, &CommandError{Command: "sendmsg execute " + app, Reply: m.ReplyText()}
	}
	return func(ctx context.Context) (*Event, error) {
		select {
		case r := <-w.ch:
			return r.ev, r.err
		case <-ctx.Done():
			unregister()
			return nil, ctx.Err()
		case <-c.closing:
			return nil, ErrClosed
		}
	}, nil
}

// buildExecute writes a terminated sendmsg in a fixed header order (eslgo's SendMessage
// iterates a map, so its bytes differ run to run). Arguments with line breaks
// or longer than mod_event_socket's header limit go in the body.
func buildExecute(uuid, app, arg, eventUUID string) string {
	var b strings.Builder
	b.WriteString("sendmsg " + uuid + "\ncall-command: execute\nexecute-app-name: " + app)
	b.WriteString("\nEvent-UUID: " + eventUUID)
	if len(arg) > 2048 || strings.ContainsAny(arg, "\r\n") {
		b.WriteString("\ncontent-type: text/plain\ncontent-length: " + strconv.Itoa(len(arg)) + "\n\n" + arg)
		return b.String()
	}
	if arg != "" {
		b.WriteString("\nexecute-app-arg: " + arg)
	}
	return b.String() + "\n\n"
}

// API runs "api <cmd> <uuid> <args>" for the uuid_* family.
func (call *Call) API(ctx context.Context, cmd string, args ...string) (string, error) {
	line := cmd + " " + call.UUID
	if len(args) > 0 {
		line += " " + strings.Join(args, " ")
	}
	return call.c.API(ctx, line)
}

// GetVar reads a channel variable; FreeSWITCH's "_undef_" becomes "".
func (call *Call) GetVar(ctx context.Context, name string) (string, error) {
	if err := checkToken(name); err != nil {
		return "", err
	}
	v, err := call.API(ctx, "uuid_getvar", name)
	v = strings.TrimSpace(v)
	if v == "_undef_" {
		v = ""
	}
	return v, err
}

// Hangup ends the channel with a Q.850 cause name (NORMAL_CLEARING when empty).
func (call *Call) Hangup(ctx context.Context, cause string) error {
	if cause == "" {
		cause = "NORMAL_CLEARING"
	}
	if !HangupCauseOK(cause) {
		return fmt.Errorf("%w: hangup cause %q (a Q.850 name such as USER_BUSY)", ErrInvalidValue, cause)
	}
	m, err := call.c.SendRaw(ctx, "sendmsg "+call.UUID+"\ncall-command: hangup\nhangup-cause: "+cause)
	if err != nil {
		return err
	}
	if strings.HasPrefix(m.ReplyText(), "-ERR invalid session id") {
		// Already gone (its hangup events may have been lost in a reconnect):
		// hanging up is idempotent.
		return nil
	}
	if !strings.HasPrefix(m.ReplyText(), "+OK") {
		return &CommandError{Command: "sendmsg hangup", Reply: m.ReplyText()}
	}
	return nil
}

// Break stops the application playing media on the channel (uuid_break); all
// also flushes queued playbacks.
func (call *Call) Break(ctx context.Context, all bool) error {
	var err error
	if all {
		_, err = call.API(ctx, "uuid_break", "all")
	} else {
		_, err = call.API(ctx, "uuid_break")
	}
	return err
}
