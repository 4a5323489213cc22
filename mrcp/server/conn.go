package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mrcpd/mrcpd/mrcp"
)

// Flow control of a connection's answers and events. The reader stops reading requests while
// outHighWater messages wait to be written and resumes below outLowWater: a client pipelining
// requests is slowed down, not dropped (a=connection:existing carries many sessions). Sessions
// never block on a connection: past outQueue (events of requests already running, for a client
// that does not read at all) the connection is closed, as it is when one write waits longer than
// mrcp.write_timeout.
const (
	outHighWater = 256
	outLowWater  = 64
	outQueue     = 4096
)

// conn is one control connection (RFC 6787 §4.2). Any number of channels of any number of
// sessions may share it; requests are routed by Channel-Identifier.
type conn struct {
	srv        *Server
	nc         net.Conn
	remoteHost string
	tls        bool
	accepted   time.Time   // on the server's clock
	opened     time.Time   // on the wall clock, for the idle deadline
	bound      atomic.Bool // some channel is bound to it (RFC 6787 §4.2)
	log        *slog.Logger
	out        chan *mrcp.Message
	drained    chan struct{} // the writer got below outLowWater
	done       chan struct{}
	closeOnce  sync.Once
}

func newConn(s *Server, nc net.Conn, isTLS bool) *conn {
	host, _, _ := net.SplitHostPort(nc.RemoteAddr().String())
	return &conn{srv: s, nc: nc, remoteHost: host, tls: isTLS, accepted: s.cfg.Clock.Now(), opened: time.Now(),
		log:     s.log.With("conn", nc.RemoteAddr().String()),
		out:     make(chan *mrcp.Message, outQueue),
		drained: make(chan struct{}, 1),
		done:    make(chan struct{})}
}

// send queues m; it never blocks the caller. It reports false when the connection is gone.
func (c *conn) send(m *mrcp.Message) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	select {
	case c.out <- m:
		return true
	case <-c.done:
		return false
	default:
		c.log.Warn("closing control connection", "err", ErrSlowClient)
		c.srv.cfg.Metrics.connClosed(closedSlowClient)
		c.close()
		return false
	}
}

// waitDrained holds the reader while too many answers wait to be written (flow control: a
// pipelining client is read more slowly); false when the connection is gone.
func (c *conn) waitDrained() bool {
	for len(c.out) >= outHighWater {
		select {
		case <-c.drained:
		case <-c.done:
			return false
		}
	}
	return true
}

func (c *conn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.nc.Close()
	})
}

// run reads until the connection fails or ctx ends; the writer runs beside it.
func (c *conn) run(ctx context.Context) {
	c.log.Debug("control connection open")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.writeLoop() }()
	stop := context.AfterFunc(ctx, c.close)
	err := c.readLoop()
	stop()
	// Let the writer flush what is queued (e.g. the answer to the bad message that ended the
	// read loop) and half-close; then discard what the client still sends, so that it reads our
	// answer and a clean end of stream rather than a reset.
	select {
	case c.out <- nil:
	case <-c.done:
	default:
		c.close()
	}
	wg.Wait()
	var se *mrcp.StatusError
	if errors.As(err, &se) {
		_ = c.nc.SetReadDeadline(time.Now().Add(time.Second))
		_, _ = io.Copy(io.Discard, io.LimitReader(c.nc, int64(c.srv.cfg.MaxMessageSize)))
	}
	c.close()
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		c.log.Info("control connection closed", "err", err)
	} else {
		c.log.Debug("control connection closed")
	}
}

func (c *conn) writeLoop() {
	w := bufio.NewWriter(c.nc)
	var buf []byte
	for {
		var m *mrcp.Message
		select {
		case <-c.done:
			return
		case m = <-c.out:
		}
		if m == nil {
			if w.Flush() == nil {
				if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
					_ = cw.CloseWrite()
				}
			}
			return
		}
		buf = m.Append(buf[:0])
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
		_, err := w.Write(buf)
		if err == nil && len(c.out) == 0 {
			err = w.Flush()
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				c.log.Warn("closing control connection", "err", ErrSlowClient)
				c.srv.cfg.Metrics.connClosed(closedSlowClient)
			}
			c.close()
			return
		}
		if len(c.out) < outLowWater {
			select {
			case c.drained <- struct{}{}:
			default:
			}
		}
	}
}

func (c *conn) readLoop() error {
	r := &deadlineReader{c: c}
	dec := mrcp.NewDecoder(r, c.srv.cfg.MaxMessageSize)
	r.dec = dec
	for {
		if !c.waitDrained() {
			return net.ErrClosed
		}
		m, err := dec.Decode()
		r.messageDone()
		if err != nil {
			var se *mrcp.StatusError
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if retry, err := r.timedOut(); !retry {
					return err
				}
				continue
			}
			if !errors.As(err, &se) {
				return err
			}
			c.log.Info("bad message on control connection", "status", se.Status(), "fatal", se.Fatal(), "err", err)
			c.send(errorResponse(se.Message, se.Status(), se.Header, se.Reason))
			if se.Fatal() {
				c.srv.cfg.Metrics.connClosed(closedBadMessage)
				// The stream cannot be re-framed (RFC 6787 §5.1 frames by message-length):
				// the answer above is the last thing the client gets.
				return err
			}
			continue
		}
		c.dispatch(m)
	}
}

// dispatch routes one message to the session owning its channel.
func (c *conn) dispatch(m *mrcp.Message) {
	if m.Kind != mrcp.KindRequest {
		c.log.Debug("ignoring non-request from client", "kind", m.Kind, "name", m.Name)
		return
	}
	id := m.ChannelID()
	if id == "" {
		// §6.2.1: Channel-Identifier is mandatory in every request.
		c.send(errorResponse(m, mrcp.Status406, mrcp.HeaderChannelIdentifier, "missing"))
		return
	}
	se := c.srv.lookupChannel(id)
	if se == nil || !se.deliver(c, m) {
		c.log.Info("request for unknown channel", "channel", id, "method", m.Name)
		// §5.4: 405 Resource not allocated for this session or does not exist.
		c.send(errorResponse(m, mrcp.Status405, mrcp.HeaderChannelIdentifier, "no such channel"))
	}
}

// errorResponse answers req (which may be nil when the decoder could not read a start line) with
// code; the failing header, if any, is echoed so that the client sees which one it was.
func errorResponse(req *mrcp.Message, code int, header, reason string) *mrcp.Message {
	if req == nil {
		req = &mrcp.Message{Kind: mrcp.KindRequest}
	}
	resp := req.NewResponse(code, mrcp.StateComplete)
	if header != "" && !equalName(header, mrcp.HeaderChannelIdentifier) {
		if v, ok := req.Header.Get(header); ok {
			resp.Header.Set(header, v)
		} else {
			resp.Header.Set(header, "")
		}
	}
	return resp
}
