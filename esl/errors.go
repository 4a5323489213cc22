package esl

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels; every error the package returns wraps one of these or is one of the
// typed errors below.
var (
	ErrClosed        = errors.New("esl: client closed")
	ErrDisconnected  = errors.New("esl: connection lost")
	ErrReconnected   = errors.New("esl: outcome unknown, connection was lost while waiting")
	ErrCallGone      = errors.New("esl: channel is gone")
	ErrInvalidDigits = errors.New("esl: invalid DTMF digits")
	ErrInvalidValue  = errors.New("esl: value cannot be sent safely")
	ErrThrottled     = errors.New("esl: FreeSWITCH refused the session (throttled)")
	// ErrHeartbeat: FreeSWITCH did not answer the keep-alive in time; the
	// connection is treated as dead and replaced.
	ErrHeartbeat = errors.New("esl: heartbeat failed")
)

// AuthError is FreeSWITCH refusing our password ("-ERR invalid"). It is not
// retried by the reconnect loop: a wrong password does not fix itself.
type AuthError struct {
	Reply string
}

func (e *AuthError) Error() string { return "esl: authentication failed: " + e.Reply }

// ProtocolError is a message that does not follow the Event Socket framing.
type ProtocolError struct {
	Reason string
	Err    error
}

func (e *ProtocolError) Error() string {
	if e.Err != nil {
		return "esl: protocol error: " + e.Reason + ": " + e.Err.Error()
	}
	return "esl: protocol error: " + e.Reason
}

func (e *ProtocolError) Unwrap() error { return e.Err }

// CommandError is a "-ERR ..." reply to a command, api call, or background job.
type CommandError struct {
	Command string
	Reply   string
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("esl: %s: %s", firstWord(e.Command), e.Reply)
}

// Is lets callers test errors.Is(err, ErrThrottled) on an originate refused
// because FreeSWITCH hit its sessions-per-second or max-sessions limit.
func (e *CommandError) Is(target error) bool {
	return target == ErrThrottled && IsThrottleCause(strings.TrimPrefix(e.Reply, "-ERR "))
}

// HangupCause returns the cause in an "-ERR CAUSE" reply, or "".
func (e *CommandError) HangupCause() string {
	s := strings.TrimSpace(strings.TrimPrefix(e.Reply, "-ERR"))
	if s == "" || strings.ContainsAny(s, " ") {
		return ""
	}
	return s
}

// IsThrottleCause: the causes FreeSWITCH gives when switch_core_session_request
// refuses a session because of sessions-per-second or max-sessions.
func IsThrottleCause(cause string) bool {
	switch strings.TrimSpace(cause) {
	case "SWITCH_CONGESTION", "NORMAL_TEMPORARY_FAILURE", "SYSTEM_SHUTDOWN":
		return true
	}
	return strings.Contains(cause, "Throttle")
}

// ExecuteError: the application ran but reported failure, or the channel hung up
// before it completed.
type ExecuteError struct {
	App      string
	Response string
	Cause    string
}

func (e *ExecuteError) Error() string {
	if e.Cause != "" {
		return fmt.Sprintf("esl: %s: channel hung up (%s)", e.App, e.Cause)
	}
	return fmt.Sprintf("esl: %s: %s", e.App, e.Response)
}

func (e *ExecuteError) Unwrap() error {
	if e.Cause != "" {
		return ErrCallGone
	}
	return nil
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}
