package esl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
)

// OutboundServer accepts connections from FreeSWITCH's `socket` application
// ("socket 127.0.0.1:8084 async full"): one connection, and one handler
// goroutine, per call.
type OutboundServer struct {
	Logger  *slog.Logger
	Metrics *Metrics // shared by all sessions; nil: unregistered
	// NoLinger turns linger off. With linger on (the default) FreeSWITCH keeps
	// the socket open after hangup until the CHANNEL_HANGUP_COMPLETE and the
	// rest of the channel's events are delivered.
	NoLinger    bool
	MailboxSize int
	Handler     func(ctx context.Context, s *OutboundSession)
}

// OutboundSession is one call handed to us by FreeSWITCH.
type OutboundSession struct {
	Client *Client // commands go over this call's own socket
	Call   *Call
	// Channel holds the channel's variables from the "connect" reply.
	Channel *Event
}

// Serve accepts until ctx is cancelled or the listener fails, then waits for
// the running handlers.
func (s *OutboundServer) Serve(ctx context.Context, ln net.Listener) error {
	if s.Handler == nil {
		return fmt.Errorf("%w: OutboundServer without Handler", ErrInvalidValue)
	}
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := s.Metrics
	if m == nil {
		var err error
		if m, err = NewMetrics(nil); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.serveConn(ctx, nc, log, m); err != nil {
				log.Warn("esl: outbound session failed", "remote", nc.RemoteAddr(), "err", err)
			}
		}()
	}
}

func (s *OutboundServer) serveConn(ctx context.Context, nc net.Conn, log *slog.Logger, m *Metrics) error {
	cn := newConn(nc, log, m)
	reply, err := cn.roundTrip("connect")
	if err != nil {
		_ = nc.Close()
		return fmt.Errorf("esl: outbound connect: %w", err)
	}
	ch := &Event{Headers: map[string]string{}}
	for _, h := range reply.Headers {
		ch.Headers[h.Name] = URLDecode(h.Value)
	}
	ch.Name = "CHANNEL_DATA"
	ch.UniqueID = ch.Get("Unique-ID")
	if ch.UniqueID == "" {
		_ = nc.Close()
		return &ProtocolError{Reason: "connect reply without Unique-ID"}
	}
	cfg := Config{Logger: log.With("uuid", ch.UniqueID), MailboxSize: s.MailboxSize}
	cfg.setDefaults()
	c := newClient(cfg, m)
	c.cur = cn
	close(c.ready)
	cn.onEvent = c.route
	cn.start(&c.wg)
	call := c.Track(ch.UniqueID)
	setup := []string{"myevents plain"}
	if !s.NoLinger {
		setup = append(setup, "linger")
	}
	for _, cmd := range setup {
		if r, err := cn.send(ctx, cmd); err != nil {
			_ = c.Close()
			return err
		} else if !strings.HasPrefix(r.ReplyText(), "+OK") {
			_ = c.Close()
			return &CommandError{Command: cmd, Reply: r.ReplyText()}
		}
	}
	s.Handler(ctx, &OutboundSession{Client: c, Call: call, Channel: ch})
	// "exit" lets FreeSWITCH flush what it still has (with linger, the hangup
	// events) and close; we read until it does.
	_, _ = cn.send(ctx, "exit")
	select {
	case <-cn.done:
	case <-ctx.Done():
	}
	err = cn.failure()
	_ = c.Close()
	if errors.Is(err, ErrDisconnected) {
		return nil
	}
	return err
}
