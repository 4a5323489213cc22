package asr

import (
	"errors"
	"fmt"
)

// ErrorKind classifies backend failures so that the host can choose a Completion-Cause and decide
// whether to retry, without parsing strings.
type ErrorKind int

const (
	ErrInternal     ErrorKind = iota // engine bug or unknown failure
	ErrAuth                          // bad credentials
	ErrQuota                         // quota or rate limit
	ErrBadParameter                  // a parameter the engine rejects
	ErrBadGrammar                    // a grammar the engine cannot load (words missing from the dictionary, syntax)
	ErrStreamLimit                   // the engine's maximum stream length was reached
	ErrIdleTimeout                   // the engine closed an idle stream
	ErrUnavailable                   // the engine or its process is gone or not answering
	ErrLanguage                      // language not supported
)

var kindNames = [...]string{"internal", "auth", "quota", "bad-parameter", "bad-grammar", "stream-limit", "idle-timeout", "unavailable", "language"}

func (k ErrorKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is the typed error every backend returns.
type Error struct {
	Kind      ErrorKind
	Message   string
	Retryable bool
}

func (e *Error) Error() string { return fmt.Sprintf("asr %s: %s", e.Kind, e.Message) }

// Errorf builds an *Error.
func Errorf(kind ErrorKind, retryable bool, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Retryable: retryable}
}

// KindOf returns the kind of err, or ErrInternal when err carries no *Error.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ErrInternal
}
