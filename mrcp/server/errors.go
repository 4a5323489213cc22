package server

import "errors"

// Sentinels; wrap them with %w so that callers can test with errors.Is.
var (
	ErrClosed          = errors.New("server: closed")
	ErrSessionEnded    = errors.New("server: session ended")
	ErrConnLost        = errors.New("server: control connection lost")
	ErrConnectTimeout  = errors.New("server: client never opened the control connection")
	ErrMediaTimeout    = errors.New("server: no RTP received")
	ErrUnknownResource = errors.New("server: unknown resource")
	ErrSlowClient      = errors.New("server: client does not read its control connection")
	ErrShutdown        = errors.New("server: shutting down")
	ErrMessageTimeout  = errors.New("server: message not received in time")
	ErrIdleConnection  = errors.New("server: control connection never used")
)
