package server

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/mrcpd/mrcpd/mrcp/sdp"
)

// Sink receives what a Receiver decodes, on the receiver's goroutine.
type Sink interface {
	Audio(pcm []int16)
	DTMF(digit rune)
}

// Receiver is the inbound RTP path of one audio m-line.
type Receiver interface {
	Run(ctx context.Context, sink Sink) error
	LastPacket() time.Time
}

// Sender is the outbound, paced RTP path of one audio m-line.
type Sender interface {
	Run(ctx context.Context) error
	Write(pcm []int16) error
	// End marks the end of an utterance; the channel closes after its last packet left.
	End() <-chan struct{}
	Flush()
	Pause()
	Resume()
}

// ReceiverParams and SenderParams are what the session knows after negotiation.
type ReceiverParams struct {
	Formats    []sdp.Format // the negotiated codec, then telephone-event if any
	OutputRate int
	// OnLatch, when the endpoint also sends, moves the sender to the peer's RTP source address
	// (used when the factory does symmetric RTP).
	OnLatch func(net.Addr)
	Logger  *slog.Logger
}

type SenderParams struct {
	Remote         net.Addr
	Format         sdp.Format
	TelephoneEvent *sdp.Format
	Ptime          time.Duration
	InputRate      int
	Logger         *slog.Logger
}

// MediaFactory opens the RTP side of sessions; the media package backs it in production, tests use
// in-memory fakes.
type MediaFactory interface {
	// Formats are the codecs we accept, preference first, telephone-event included.
	Formats() []sdp.Format
	Listen() (net.PacketConn, error)
	NewReceiver(conn net.PacketConn, p ReceiverParams) (Receiver, error)
	NewSender(conn net.PacketConn, p SenderParams) (Sender, error)
}

// SpeechEvent is what an Endpointer reports for a frame.
type SpeechEvent int

const (
	SpeechNone SpeechEvent = iota
	SpeechStart
	SpeechEnd
)

// Endpointer is a voice-activity detector (media.VAD in production) that drives START-OF-INPUT
// and Speech-Complete-Timeout when the engine does not detect speech itself.
type Endpointer interface {
	Process(pcm []int16) SpeechEvent
}
