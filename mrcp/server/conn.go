package server

import (
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
	// out holds what waits to be written (a nil message: flush and half-close). It is a slice
	// that an idle connection does not hold at all, rather than a channel of outQueue slots:
	// a connection per session is the common case, and its queue is empty nearly all the time.
	outMu     sync.Mutex
	out       []*mrcp.Message
	writing   bool           // a writer goroutine is running; it ends when out is empty
	writers   sync.WaitGroup // the writer goroutine, while one runs
	drained   chan struct{}  // the writer got below outLowWater
	done      chan struct{}
	closeOnce sync.Once
}

func newConn(s *Server, nc net.Conn, isTLS bool) *conn {
	host, _, _ := net.SplitHostPort(nc.RemoteAddr().String())
	return &conn{srv: s, nc: nc, remoteHost: host, tls: isTLS, accepted: s.cfg.Clock.Now(), opened: time.Now(),
		log:     s.log.With("conn", nc.RemoteAddr().String()),
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
	if !c.enqueue(m) {
		c.log.Warn("closing control connection", "err", ErrSlowClient)
		c.srv.cfg.Metrics.connClosed(closedSlowClient)
		c.close()
		return false
	}
	return true
}

// enqueue adds m for the writer; false when outQueue messages wait already.
func (c *conn) enqueue(m *mrcp.Message) bool {
	c.outMu.Lock()
	if len(c.out) >= outQueue {
		c.outMu.Unlock()
		return false
	}
	c.out = append(c.out, m)
	if !c.writing {
		// The writer runs only while there is something to write: an idle connection (the
		// usual state of a session's) costs no goroutine for it.
		c.writing = true
		c.writers.Add(1)
		go func() { defer c.writers.Done(); c.writeLoop() }()
	}
	c.outMu.Unlock()
	return true
}

// dequeue takes the next message to write and says how many wait behind it; with none left
// the writer goroutine ends (ok false).
func (c *conn) dequeue() (m *mrcp.Message, ok bool, left int) {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if len(c.out) == 0 {
		c.writing = false
		return nil, false, 0
	}
	m, c.out[0] = c.out[0], nil
	c.out = c.out[1:]
	if len(c.out) == 0 {
		c.out = nil // an idle connection holds no queue
	}
	return m, true, len(c.out)
}

func (c *conn) queued() int {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	return len(c.out)
}

// waitDrained holds the reader while too many answers wait to be written (flow control: a
// pipelining client is read more slowly); false when the connection is gone.
func (c *conn) waitDrained() bool {
	for c.queued() >= outHighWater {
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

// run reads until the connection fails or ctx ends; a writer runs beside it while answers and
// events wait.
func (c *conn) run(ctx context.Context) {
	c.log.Debug("control connection open")
	stop := context.AfterFunc(ctx, c.close)
	err := c.readLoop()
	stop()
	// Let the writer flush what is queued (e.g. the answer to the bad message that ended the
	// read loop) and half-close; then discard what the client still sends, so that it reads our
	// answer and a clean end of stream rather than a reset.
	if !c.enqueue(nil) {
		c.close()
	}
	c.writers.Wait()
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

// writeLoop writes what is queued, several messages to a write while they keep coming, and
// ends when nothing is left (or the connection is closed).
func (c *conn) writeLoop() {
	var buf []byte
	for {
		select {
		case <-c.done:
			c.outMu.Lock()
			c.writing, c.out = true, nil // nothing more is written: no writer starts again
			c.outMu.Unlock()
			return
		default:
		}
		m, ok, left := c.dequeue()
		if !ok {
			return
		}
		if m == nil {
			if c.write(buf) == nil {
				if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
					_ = cw.CloseWrite()
				}
			}
			return
		}
		buf = m.Append(buf)
		if left == 0 || len(buf) >= writeChunk {
			if c.write(buf) != nil {
				return
			}
			buf = buf[:0]
		}
		if left < outLowWater {
			select {
			case c.drained <- struct{}{}:
			default:
			}
		}
	}
}

// writeChunk is how much the writer gathers before a write while messages keep coming.
const writeChunk = 4096

// write writes b within mrcp.write_timeout; a failure closes the connection.
func (c *conn) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
	_, err := c.nc.Write(b)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.log.Warn("closing control connection", "err", ErrSlowClient)
			c.srv.cfg.Metrics.connClosed(closedSlowClient)
		}
		c.close()
	}
	return err
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
