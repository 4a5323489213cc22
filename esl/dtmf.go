package esl

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/asr/clock"
)

// DTMF limits FreeSWITCH enforces: switch_core_session_send_dtmf_string ignores
// strings longer than 99 characters ("Attempt to send very large dtmf string
// ignored!"), and durations are clamped to SWITCH_MIN/MAX_DTMF_DURATION
// (400..192000 samples at 8 kHz).
const (
	MaxDTMFString      = 99
	MinDTMFDuration    = 50 * time.Millisecond
	MaxDTMFDuration    = 24 * time.Second
	DefaultDTMFLength  = 100 * time.Millisecond
	shortPause         = 500 * time.Millisecond // 'w'
	longPause          = time.Second            // 'W'
	dtmfAllowedSymbols = "0123456789*#ABCDwW"
)

// DTMFMethod selects how digits reach the channel.
type DTMFMethod int

const (
	// DTMFExecute runs the send_dtmf application: queued behind the channel's
	// other applications, so it never fires in the middle of our own prompt.
	DTMFExecute DTMFMethod = iota
	// DTMFAPI uses uuid_send_dtmf: immediate, even while an application runs.
	DTMFAPI
)

// DTMFRequest is a validated digit string.
type DTMFRequest struct {
	Digits   string        // 0-9 * # A-D; w = 0.5 s pause, W = 1 s pause
	Duration time.Duration // per digit; 0 = 100 ms
	Method   DTMFMethod
}

// ValidateDigits checks a digit string and returns it normalised (a-d upper
// case). Pauses count towards FreeSWITCH's limit because it would see them.
func ValidateDigits(digits string) (string, error) {
	if digits == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidDigits)
	}
	if len(digits) > MaxDTMFString {
		return "", fmt.Errorf("%w: %d characters, FreeSWITCH ignores more than %d", ErrInvalidDigits, len(digits), MaxDTMFString)
	}
	var b strings.Builder
	for i, r := range digits {
		if r >= 'a' && r <= 'd' {
			r -= 'a' - 'A'
		}
		if !strings.ContainsRune(dtmfAllowedSymbols, r) {
			return "", fmt.Errorf("%w: %q at position %d (allowed: 0-9 * # A-D w W)", ErrInvalidDigits, r, i)
		}
		b.WriteRune(r)
	}
	return b.String(), nil
}

// dtmfChunk is a run of digits or a pause.
type dtmfChunk struct {
	digits string
	pause  time.Duration
}

func splitDigits(digits string) []dtmfChunk {
	var out []dtmfChunk
	start := 0
	for i := 0; i < len(digits); i++ {
		var p time.Duration
		switch digits[i] {
		case 'w':
			p = shortPause
		case 'W':
			p = longPause
		default:
			continue
		}
		if i > start {
			out = append(out, dtmfChunk{digits: digits[start:i]})
		}
		if n := len(out); n > 0 && out[n-1].digits == "" {
			out[n-1].pause += p
		} else {
			out = append(out, dtmfChunk{pause: p})
		}
		start = i + 1
	}
	if start < len(digits) {
		out = append(out, dtmfChunk{digits: digits[start:]})
	}
	return out
}

// SendDTMF sends digits as RFC 2833/4733 events (or whatever the leg's
// dtmf_type says). Pauses are timed here with the injected clock rather than
// by FreeSWITCH, so a caller's context can cancel them and tests need no sleep.
func (call *Call) SendDTMF(ctx context.Context, req DTMFRequest, clk clock.Clock) error {
	digits, err := ValidateDigits(req.Digits)
	if err != nil {
		return err
	}
	d := req.Duration
	if d == 0 {
		d = DefaultDTMFLength
	}
	if d < MinDTMFDuration || d > MaxDTMFDuration {
		return fmt.Errorf("%w: duration %v outside %v..%v", ErrInvalidDigits, d, MinDTMFDuration, MaxDTMFDuration)
	}
	if clk == nil {
		clk = clock.Real{}
	}
	suffix := "@" + strconv.FormatInt(d.Milliseconds(), 10)
	for _, ch := range splitDigits(digits) {
		if ch.pause > 0 {
			select {
			case <-clk.After(ch.pause):
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		if req.Method == DTMFAPI {
			if _, err := call.API(ctx, "uuid_send_dtmf", ch.digits+suffix); err != nil {
				return err
			}
			continue
		}
		if _, err := call.Execute(ctx, "send_dtmf", ch.digits+suffix); err != nil {
			return err
		}
	}
	return nil
}
