package sdp

import "fmt"

// Error is an offer the answerer cannot accept. Code is the SIP status to answer the INVITE with
// (488 Not Acceptable Here for unusable SDP, 404 for an unknown MRCP resource) and Warning the
// text for the response's Warning header, so that the client's log names the reason.
type Error struct {
	Code    int
	Warning string
}

func (e *Error) Error() string { return fmt.Sprintf("sdp: %d %s", e.Code, e.Warning) }

// SIPStatus is the SIP response code the INVITE is answered with.
func (e *Error) SIPStatus() int { return e.Code }

// SIPWarning is the text for the response's Warning header (RFC 3261 §20.43).
func (e *Error) SIPWarning() string { return e.Warning }

func notAcceptable(format string, args ...any) *Error {
	return &Error{Code: 488, Warning: fmt.Sprintf(format, args...)}
}

// UnknownResource is the error for an a=resource the server does not offer (RFC 6787 §4.2
// leaves the code to SIP; UniMRCP and mod_unimrcp treat 404 as "no such resource").
func UnknownResource(name string) *Error {
	return &Error{Code: 404, Warning: fmt.Sprintf("unknown resource %q", name)}
}
