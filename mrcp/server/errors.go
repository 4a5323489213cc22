package server

import (
	"errors"
	"fmt"
)

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

// sipError is an Offer failure that knows its SIP response; mrcp/sip answers with Code and puts
// Warning in a Warning header.
type sipError struct {
	Code    int
	Warning string
	err     error
}

func (e *sipError) Error() string       { return fmt.Sprintf("sip %d: %s", e.Code, e.Warning) }
func (e *sipError) SIPStatus() int      { return e.Code }
func (e *sipError) Unwrap() error       { return e.err }
func (e *sipError) WarningText() string { return e.Warning }

func sipErrorf(code int, cause error, format string, args ...any) *sipError {
	return &sipError{Code: code, Warning: fmt.Sprintf(format, args...), err: cause}
}

// statusError is a request failure that knows its MRCP status (RFC 6787 §5.4) and, for 403/404/406,
// the header at fault, which the response names.
type statusError struct {
	Code   int
	Header string
	Reason string
}

func (e *statusError) Error() string {
	if e.Header != "" {
		return fmt.Sprintf("mrcp %d: %s: %s", e.Code, e.Header, e.Reason)
	}
	return fmt.Sprintf("mrcp %d: %s", e.Code, e.Reason)
}

func (e *statusError) Status() int { return e.Code }
