package server

import (
	"fmt"
	"net"
	"time"

	"github.com/mrcpd/mrcpd/mrcp"
)

// Why a control connection was refused or closed by a limit (the reason label of
// mrcpd_control_connections_closed_total), issue 12 item 4.
const (
	closedTotal          = "max-connections"          // mrcp.max_connections reached at accept
	closedPerHost        = "max-connections-per-host" // mrcp.max_connections_per_host reached at accept
	closedIdle           = "idle"                     // no channel bound within mrcp.idle_timeout
	closedMessageTimeout = "message-timeout"          // a message took longer than mrcp.message_timeout
	closedSlowClient     = "slow-client"              // answers not read within mrcp.write_timeout
	closedBadMessage     = "bad-message"              // a message that cannot be framed (408, 504)
)

// admitConn registers c unless a connection limit is reached; it returns the limit's reason.
func (s *Server) admitConn(c *conn) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return "closed"
	case len(s.conns) >= s.cfg.MaxConnections:
		return closedTotal
	case s.perHost[c.remoteHost] >= s.cfg.MaxConnectionsPerHost:
		return closedPerHost
	}
	s.conns[c] = struct{}{}
	s.perHost[c.remoteHost]++
	s.cfg.Metrics.connOpened()
	return ""
}

// forgetConn unregisters c; the caller holds s.mu.
func (s *Server) forgetConn(c *conn) {
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	if s.perHost[c.remoteHost]--; s.perHost[c.remoteHost] <= 0 {
		delete(s.perHost, c.remoteHost)
	}
	s.cfg.Metrics.connGone()
}

// refuse closes a connection a limit does not admit. Nothing can be answered (no request was
// read yet): the client sees the connection closed at once; the metric and a warning, at most
// one a second, tell the operator.
func (s *Server) refuse(nc net.Conn, reason string) {
	if reason == "closed" {
		nc.Close()
		return
	}
	// Counted before the close, so that whoever sees the connection refused sees it counted.
	s.cfg.Metrics.connClosed(reason)
	nc.Close()
	now := time.Now().Unix()
	if last := s.refusedLog.Load(); last != now && s.refusedLog.CompareAndSwap(last, now) {
		s.log.Warn("control connection refused", "remote", nc.RemoteAddr().String(), "limit", reason,
			"max_connections", s.cfg.MaxConnections, "max_connections_per_host", s.cfg.MaxConnectionsPerHost)
	}
}

// deadlineReader puts the read deadline of a control connection where its limits say: a message
// once begun must be whole within mrcp.message_timeout, and a connection no channel is bound to
// is closed mrcp.idle_timeout after it was opened. Deadlines are on the wall clock, as the
// kernel's are.
type deadlineReader struct {
	c        *conn
	dec      *mrcp.Decoder
	msgStart time.Time // when the message being read began, zero between messages
}

func (r *deadlineReader) Read(p []byte) (int, error) {
	cfg := &r.c.srv.cfg
	var dl time.Time
	switch {
	case r.dec.Buffered() > 0:
		if r.msgStart.IsZero() {
			r.msgStart = time.Now()
		}
		dl = r.msgStart.Add(cfg.MessageTimeout)
	case !r.c.bound.Load():
		dl = r.c.opened.Add(cfg.IdleTimeout)
	}
	if err := r.c.nc.SetReadDeadline(dl); err != nil {
		return 0, err
	}
	n, err := r.c.nc.Read(p)
	if n > 0 && r.msgStart.IsZero() {
		r.msgStart = time.Now()
	}
	return n, err
}

// messageDone: the decoder returned, the next message starts its own clock.
func (r *deadlineReader) messageDone() { r.msgStart = time.Time{} }

// timedOut handles a read deadline: retry when the connection got bound meanwhile (its idle
// deadline no longer applies), else the error that ends it, after a 408 for a message cut short.
func (r *deadlineReader) timedOut() (retry bool, err error) {
	c := r.c
	if r.dec.Buffered() > 0 {
		c.srv.cfg.Metrics.connClosed(closedMessageTimeout)
		c.send(errorResponse(nil, mrcp.Status408, "", "message incomplete"))
		return false, fmt.Errorf("%w: a message took longer than %v", ErrMessageTimeout, c.srv.cfg.MessageTimeout)
	}
	if c.bound.Load() {
		return true, nil
	}
	c.srv.cfg.Metrics.connClosed(closedIdle)
	return false, fmt.Errorf("%w: no channel used within %v", ErrIdleConnection, c.srv.cfg.IdleTimeout)
}
