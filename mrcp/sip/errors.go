package sip

import (
	"errors"
	"fmt"
)

// Sentinel errors of the SIP agent.
var (
	// ErrNoDialog is returned by Bye for a Call-ID with no live dialog.
	ErrNoDialog = errors.New("sip: no such dialog")
	// ErrOfferTimeout is what a client is answered with (500) when the Handler takes longer than
	// the offer timeout: a client is never left at 100 Trying.
	ErrOfferTimeout = errors.New("sip: offer handler timed out")
	// ErrClosed is returned once the server has stopped.
	ErrClosed = errors.New("sip: server closed")
)

// sipStatuser is how errors from a Handler choose their SIP response (STYLE: errors classify
// themselves). sdp.Error and the session manager's capacity errors implement it.
type sipStatuser interface{ SIPStatus() int }

// sipWarninger lets an error give a Warning text other than its Error() string.
type sipWarninger interface{ SIPWarning() string }

// StatusError is a failure that knows its SIP response: this package's own, and a Handler's
// (mrcp/server answers offers it cannot take with it). Warning goes into the Warning header; Err,
// if any, is the cause errors.Is finds.
type StatusError struct {
	Code    int
	Warning string
	Err     error
}

// Errorf returns a StatusError with code, cause and a Warning formatted as fmt.Sprintf does.
func Errorf(code int, cause error, format string, args ...any) *StatusError {
	return &StatusError{Code: code, Warning: fmt.Sprintf(format, args...), Err: cause}
}

func (e *StatusError) Error() string      { return fmt.Sprintf("sip: %d %s", e.Code, e.Warning) }
func (e *StatusError) SIPStatus() int     { return e.Code }
func (e *StatusError) SIPWarning() string { return e.Warning }
func (e *StatusError) Unwrap() error      { return e.Err }

// classify maps a Handler error to the response code and Warning text.
func classify(err error) (int, string) {
	code := 500
	var st sipStatuser
	if errors.As(err, &st) {
		if c := st.SIPStatus(); c >= 300 && c <= 699 {
			code = c
		}
	}
	text := err.Error()
	var w sipWarninger
	if errors.As(err, &w) && w.SIPWarning() != "" {
		text = w.SIPWarning()
	}
	return code, text
}
