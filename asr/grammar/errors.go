package grammar

import (
	"errors"
	"fmt"
)

// Cause is an MRCP speechrecog Completion-Cause (RFC 6787 §9.4.11) that a grammar failure maps to.
type Cause int

// The causes a grammar can fail with. The numbers are the wire codes.
const (
	CauseLoadFailure       Cause = 4  // 004 grammar-load-failure: unknown builtin, unsupported media type, bad URI
	CauseCompileFailure    Cause = 5  // 005 grammar-compilation-failure: syntax or reference errors
	CauseURIFailure        Cause = 9  // 009 uri-failure
	CauseLanguage          Cause = 10 // 010 language-unsupported
	CauseDefinitionFailure Cause = 16 // 016 grammar-definition-failure
)

var causeNames = map[Cause]string{
	CauseLoadFailure:       "grammar-load-failure",
	CauseCompileFailure:    "grammar-compilation-failure",
	CauseURIFailure:        "uri-failure",
	CauseLanguage:          "language-unsupported",
	CauseDefinitionFailure: "grammar-definition-failure",
}

// String gives the Completion-Cause header value, e.g. "005 grammar-compilation-failure".
func (c Cause) String() string {
	if n, ok := causeNames[c]; ok {
		return fmt.Sprintf("%03d %s", int(c), n)
	}
	return fmt.Sprintf("%03d", int(c))
}

// Sentinels for errors.Is; every *Error wraps one of them.
var (
	ErrSyntax          = errors.New("grammar syntax error")
	ErrUnsupported     = errors.New("unsupported grammar feature")
	ErrUnknownRule     = errors.New("unknown rule")
	ErrUnknownBuiltin  = errors.New("unknown builtin grammar")
	ErrBadParameter    = errors.New("bad builtin grammar parameter")
	ErrMediaType       = errors.New("unsupported grammar media type")
	ErrDictation       = errors.New("dictation grammar has no rules")
	ErrTooLarge        = errors.New("grammar too large")
	ErrSemantics       = errors.New("semantic tag error")
	ErrEmptyGrammar    = errors.New("grammar has no rules")
	ErrDuplicateRuleID = errors.New("duplicate rule id")
	ErrLanguage        = errors.New("grammar language not supported")
)

// Error is a grammar failure that knows the MRCP Completion-Cause and the status code of the
// DEFINE-GRAMMAR response it causes. Line is 1-based, 0 when unknown; Where names the element,
// rule or builtin at fault.
type Error struct {
	Cause Cause
	Line  int
	Where string
	Msg   string
	Err   error // one of the sentinels above
}

func (e *Error) Error() string {
	s := "grammar"
	if e.Line > 0 {
		s += fmt.Sprintf(" line %d", e.Line)
	}
	if e.Where != "" {
		s += " " + e.Where
	}
	return s + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Status is the MRCP status code for a DEFINE-GRAMMAR (or RECOGNIZE) that fails with this error:
// RFC 6787 §9.8 answers an unloadable or uncompilable grammar with 407 and the Completion-Cause.
func (e *Error) Status() int { return 407 }

// CompletionCause is the Completion-Cause header value, e.g. "005 grammar-compilation-failure".
func (e *Error) CompletionCause() string { return e.Cause.String() }

func errorf(cause Cause, sentinel error, line int, where, format string, args ...any) *Error {
	return &Error{Cause: cause, Line: line, Where: where, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}
