package mrcp

import (
	"errors"
	"strconv"
)

// Sentinels that StatusError and HeaderError wrap, so callers can errors.Is on the kind of failure.
var (
	ErrMalformed         = errors.New("mrcp: malformed message")
	ErrVersion           = errors.New("mrcp: protocol version not supported")
	ErrMessageLength     = errors.New("mrcp: message-length does not match the message")
	ErrMessageTooLarge   = errors.New("mrcp: message too large")
	ErrHeaderValue       = errors.New("mrcp: illegal header value")
	ErrUnsupportedHeader = errors.New("mrcp: header not supported by the resource")
)

// Failure is how an error chooses the response to the request that caused it, as mrcp/sip's
// errors choose theirs with SIPStatus: the RFC 6787 §5.4 status code, and the header field at
// fault (for 403, 404, 406, 409 ...), which the response echoes; "" for none. StatusError and
// HeaderError implement it.
type Failure interface {
	error
	Status() int
	FaultyHeader() string
}

// StatusOf is the status code and header at fault that err carries anywhere in its chain, or
// 501 server-internal-error (and no header) for an error that does not know its status.
func StatusOf(err error) (code int, header string) {
	var f Failure
	if errors.As(err, &f) {
		return f.Status(), f.FaultyHeader()
	}
	return Status501, ""
}

// StatusError is a decode or validation failure that maps onto an RFC 6787 §5.4 status code, so
// the server can answer the offending request with it.
type StatusError struct {
	Code   int    // §5.4 status code
	Header string // the offending header field (or start-line element), if any
	Reason string
	// Message is what could be parsed of the offending message (start line and header), so that
	// a response can carry its request-id and Channel-Identifier; nil when the start line itself
	// was unreadable.
	Message *Message
	// fatal marks a failure after which the stream position is unknown: the connection must close.
	fatal bool
	err   error
}

// Status is the §5.4 status code to answer with.
func (e *StatusError) Status() int { return e.Code }

// FaultyHeader is the header field at fault, if any.
func (e *StatusError) FaultyHeader() string { return e.Header }

// Fatal reports that the decoder lost the message boundaries: nothing more can be read from the
// stream. Non-fatal errors leave the decoder positioned at the next message.
func (e *StatusError) Fatal() bool { return e.fatal }

func (e *StatusError) Error() string {
	s := "mrcp: " + strconv.Itoa(e.Code) + " " + StatusText(e.Code)
	if e.Header != "" {
		s += ": " + e.Header
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

func (e *StatusError) Unwrap() error { return e.err }

func statusErr(code int, header, reason string, kind error) *StatusError {
	return &StatusError{Code: code, Header: header, Reason: reason, err: kind}
}

// HeaderError is an illegal header value found by a typed accessor (§5.4: 404).
type HeaderError struct {
	Name   string
	Value  string
	Reason string
}

// Status is 404, "illegal value for header field".
func (e *HeaderError) Status() int { return Status404 }

// FaultyHeader is the header field whose value is illegal.
func (e *HeaderError) FaultyHeader() string { return e.Name }

func (e *HeaderError) Error() string {
	return "mrcp: header " + e.Name + ": illegal value " + strconv.Quote(e.Value) + ": " + e.Reason
}

func (e *HeaderError) Unwrap() error { return ErrHeaderValue }
