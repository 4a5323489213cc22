// Package wsstream is what the WebSocket recognizers (deepgram, vosk) share of a recognition
// stream: the connection's lifetime, the event queue Recv drains, and how a close ends the stream.
package wsstream

import (
	"context"
	"errors"
	"io"

	"github.com/coder/websocket"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/plugins/internal/vendorkit"
)

// Socket is what the WebSocket recognizers (deepgram, vosk) share of a recognition stream: the
// connection, the events queued for Recv, and how the stream ended. The vendor's stream embeds
// it and supplies what differs: how a message becomes events, and what its close codes mean.
type Socket struct {
	Vendor string
	Ctx    context.Context // the stream's: cancelling it closes the connection
	Cancel context.CancelFunc
	Conn   *websocket.Conn

	// Recv side only.
	Queue []asr.Event
	done  bool
	err   error
}

// New is the stream side of conn: the connection outlives the dial's context and closes
// when the stream's (a child of ctx) is cancelled.
func New(ctx context.Context, vendor string, conn *websocket.Conn) Socket {
	sctx, cancel := context.WithCancel(ctx)
	go func() {
		<-sctx.Done()
		conn.CloseNow()
	}()
	return Socket{Vendor: vendor, Ctx: sctx, Cancel: cancel, Conn: conn}
}

// Write sends one message; a failure is classified by WriteFailed.
func (s *Socket) Write(typ websocket.MessageType, b []byte) error {
	if err := s.Conn.Write(s.Ctx, typ, b); err != nil {
		return vendorkit.WriteFailed(s.Ctx, s.Vendor, err)
	}
	return nil
}

// Recv hands out the queued events; while none is queued it reads text messages and gives each
// to handle, which queues what it means (or fails: the stream ends with ErrInternal). A read
// error ends the stream through closed (see Closed).
func (s *Socket) Recv(handle func(msg []byte) error, closed func(err error)) (asr.Event, error) {
	for len(s.Queue) == 0 {
		if s.done {
			return nil, s.err
		}
		typ, b, err := s.Conn.Read(s.Ctx)
		if err != nil {
			closed(err)
			continue
		}
		if typ != websocket.MessageText {
			continue
		}
		if err := handle(b); err != nil {
			s.End(asr.Errorf(asr.ErrInternal, false, "%s: bad message %.80q: %v", s.Vendor, b, err))
		}
	}
	ev := s.Queue[0]
	s.Queue = s.Queue[1:]
	return ev, nil
}

// End ends the stream with err (Recv returns it once the queue is empty) and closes the connection.
func (s *Socket) End(err error) {
	s.done, s.err = true, err
	s.Cancel()
}

// Err is how the stream ended (nil while it runs).
func (s *Socket) Err() error { return s.err }

// Closed ends the stream after the connection closed with err. Once the Final is out (final),
// or on a normal closure, the stream ends with io.EOF, emitFinal queueing the Final first when it
// is not out yet; a stream the caller cancelled ends with the context's error; a lost connection
// and any close code classify does not name (it returns nil) are retryable ErrUnavailable.
func (s *Socket) Closed(err error, final bool, emitFinal func(), classify func(code websocket.StatusCode, reason string) error) {
	if s.Ctx.Err() != nil && !final {
		s.End(s.Ctx.Err())
		return
	}
	code := websocket.CloseStatus(err)
	if final || code == websocket.StatusNormalClosure {
		if !final {
			emitFinal()
		}
		s.End(io.EOF)
		return
	}
	var ce websocket.CloseError
	reason := ""
	if errors.As(err, &ce) {
		reason = ce.Reason
	}
	if code == -1 {
		s.End(asr.Errorf(asr.ErrUnavailable, true, "%s: connection lost: %v", s.Vendor, err))
		return
	}
	if e := classify(code, reason); e != nil {
		s.End(e)
		return
	}
	s.End(asr.Errorf(asr.ErrUnavailable, true, "%s: closed %d: %s", s.Vendor, code, reason))
}

// Close ends the stream: the connection closes with the stream's context.
func (s *Socket) Close() error {
	s.Cancel()
	return nil
}
