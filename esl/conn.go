package esl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/percipia/eslgo/command"
)

// defaultWriteTimeout bounds a write with no context deadline: a peer that stops
// reading for this long is treated as dead rather than blocking every sender.
const defaultWriteTimeout = 10 * time.Second

// conn is one Event Socket connection: one reader goroutine that never blocks
// (it only parses, pops a reply slot, and pushes into bounded mailboxes) and a
// writer serialised by writeMu. Replies carry no correlation id in the protocol,
// so they are matched to commands by send order: each send appends a slot while
// holding writeMu, and a cancelled command leaves its slot in place so its late
// reply is consumed by that slot and never handed to the next command.
type conn struct {
	nc      net.Conn
	br      *bufio.Reader
	log     *slog.Logger
	metrics *Metrics
	// onEvent and onLog run on the reader goroutine and must not block.
	onEvent func(*Event)
	onLog   func(*Message)
	onFail  func(*conn) // called once when the connection dies; takes client locks
	done    chan struct{}

	writeMu sync.Mutex // serialises writes and keeps pending in write order

	mu         sync.Mutex
	pending    []*slot
	err        error
	disconnect *Message // text/disconnect-notice, if FreeSWITCH sent one
}

type slot struct {
	cmd       string
	reply     chan *Message // capacity 1: the reader never blocks on it
	cancelled bool          // guarded by conn.mu
}

func newConn(nc net.Conn, log *slog.Logger, m *Metrics) *conn {
	return &conn{
		nc:      nc,
		br:      bufio.NewReaderSize(nc, 64<<10),
		log:     log,
		metrics: m,
		done:    make(chan struct{}),
	}
}

// readAuthRequest waits for FreeSWITCH's greeting on an inbound connection.
func (c *conn) readAuthRequest() error {
	m, err := ReadMessage(c.br)
	if err != nil {
		return fmt.Errorf("esl: reading auth/request: %w", err)
	}
	switch m.ContentType() {
	case TypeAuthRequest:
		return nil
	case TypeRudeReject, TypeDisconnect:
		// mod_event_socket's ACL rejection: "Access Denied, go away."
		return &AuthError{Reply: strings.TrimSpace(string(m.Body))}
	default:
		return &ProtocolError{Reason: "expected auth/request, got " + m.ContentType()}
	}
}

// authenticate runs before the reader starts, so it reads its reply directly.
func (c *conn) authenticate(password string, deadline time.Time) error {
	_ = c.nc.SetDeadline(deadline)
	defer c.nc.SetDeadline(time.Time{})
	if err := c.readAuthRequest(); err != nil {
		return err
	}
	if strings.ContainsAny(password, "\r\n") {
		return fmt.Errorf("%w: password contains a line break", ErrInvalidValue)
	}
	if _, err := io.WriteString(c.nc, command.Auth{Password: password}.BuildMessage()+"\n\n"); err != nil {
		return fmt.Errorf("esl: sending auth: %w", err)
	}
	m, err := ReadMessage(c.br)
	if err != nil {
		return fmt.Errorf("esl: reading auth reply: %w", err)
	}
	if m.ContentType() != TypeReply {
		return &ProtocolError{Reason: "expected command/reply to auth, got " + m.ContentType()}
	}
	if !strings.HasPrefix(m.ReplyText(), "+OK") {
		return &AuthError{Reply: m.ReplyText()}
	}
	return nil
}

// start launches the reader; it returns when the connection dies for any
// reason (EOF, reset, timeout, protocol error, disconnect notice, close).
func (c *conn) start(wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.fail(c.readLoop())
	}()
}

func (c *conn) readLoop() error {
	for {
		m, err := ReadMessage(c.br)
		if err != nil {
			var pe *ProtocolError
			if errors.As(err, &pe) {
				c.metrics.protocolErrors.Inc()
			}
			return err
		}
		switch ct := m.ContentType(); ct {
		case TypeReply, TypeAPIResponse:
			c.deliverReply(m)
		case TypeEventPlain, TypeEventJSON:
			ev, err := ParseEvent(ct, m.Body)
			if err != nil {
				// One malformed event is not a reason to drop every call on
				// this connection: count it, log it, keep reading.
				c.metrics.malformedEvents.Inc()
				c.log.Warn("esl: malformed event skipped", "err", err)
				continue
			}
			c.metrics.eventsReceived.Inc()
			c.onEvent(ev)
		case TypeLogData:
			if c.onLog != nil {
				c.onLog(m)
			}
		case TypeDisconnect:
			c.mu.Lock()
			c.disconnect = m
			c.mu.Unlock()
			// Outbound sockets with linger keep sending the channel's last
			// events after this notice; FreeSWITCH closes when it is done.
			if m.Get("Content-Disposition") == "linger" {
				continue
			}
			return fmt.Errorf("%w: disconnect notice: %s", ErrDisconnected, strings.TrimSpace(string(m.Body)))
		case TypeAuthRequest:
			return &ProtocolError{Reason: "unexpected auth/request after authentication"}
		default:
			c.metrics.protocolErrors.Inc()
			c.log.Warn("esl: unknown content type skipped", "content_type", ct)
		}
	}
}

func (c *conn) deliverReply(m *Message) {
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.mu.Unlock()
		c.metrics.unsolicitedReplies.Inc()
		c.log.Warn("esl: reply with no command waiting", "reply", truncate(m.ReplyText()))
		return
	}
	s := c.pending[0]
	c.pending[0] = nil
	c.pending = c.pending[1:]
	cancelled := s.cancelled
	c.metrics.pendingCommands.Set(float64(len(c.pending)))
	c.mu.Unlock()
	if cancelled {
		c.metrics.lateReplies.Inc()
		c.log.Debug("esl: late reply discarded", "command", firstWord(s.cmd), "reply", truncate(m.ReplyText()))
		return
	}
	s.reply <- m // capacity 1, one reply per slot: never blocks
}

// send writes one command (without its terminating blank line) and waits for
// its reply. On ctx cancellation the slot stays queued so the reply, when it
// comes, is discarded instead of being taken by the next command.
func (c *conn) send(ctx context.Context, cmd string) (*Message, error) {
	return c.sendWire(ctx, cmd+"\n\n")
}

// sendWire writes an already terminated command (sendmsg with a body).
func (c *conn) sendWire(ctx context.Context, wire string) (*Message, error) {
	cmd := wire
	s := &slot{cmd: cmd, reply: make(chan *Message, 1)}
	c.writeMu.Lock()
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		c.writeMu.Unlock()
		return nil, err
	}
	c.pending = append(c.pending, s)
	c.metrics.pendingCommands.Set(float64(len(c.pending)))
	c.mu.Unlock()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(defaultWriteTimeout)
	}
	_ = c.nc.SetWriteDeadline(deadline)
	_, err := io.WriteString(c.nc, wire)
	c.writeMu.Unlock()
	if err != nil {
		// A partial write desynchronises the stream: the connection is done.
		err = fmt.Errorf("%w: write: %w", ErrDisconnected, err)
		c.fail(err)
		return nil, err
	}
	select {
	case m := <-s.reply:
		return m, nil
	case <-ctx.Done():
		c.mu.Lock()
		s.cancelled = true
		c.mu.Unlock()
		// The reply may have landed between the two cases.
		select {
		case m := <-s.reply:
			return m, nil
		default:
		}
		return nil, ctx.Err()
	case <-c.done:
		return nil, c.failure()
	}
}

// fail closes the connection once, recording why.
func (c *conn) fail(err error) {
	if err == nil || errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w: %v", ErrDisconnected, io.EOF)
	} else if !errors.Is(err, ErrDisconnected) && !errors.Is(err, ErrClosed) {
		err = fmt.Errorf("%w: %w", ErrDisconnected, err)
	}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	c.pending = nil
	c.mu.Unlock()
	// Unpublish before waking anyone: a caller that retries after its command
	// failed must find the client reconnecting, not this connection again.
	if c.onFail != nil {
		c.onFail(c)
	}
	_ = c.nc.Close()
	close(c.done)
}

func (c *conn) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// writeRaw is used by the outbound "connect" handshake, before the reader runs.
func (c *conn) roundTrip(cmd string) (*Message, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.nc.SetDeadline(time.Now().Add(defaultWriteTimeout))
	defer c.nc.SetDeadline(time.Time{})
	if _, err := io.WriteString(c.nc, cmd+"\n\n"); err != nil {
		return nil, err
	}
	for {
		m, err := ReadMessage(c.br)
		if err != nil {
			return nil, err
		}
		if ct := m.ContentType(); ct == TypeReply || ct == TypeAPIResponse {
			return m, nil
		}
	}
}
