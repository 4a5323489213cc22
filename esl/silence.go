package esl

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Completion causes of a record_session media bug (switch_ivr_async.c), as
// RECORD_STOP's Record-Completion-Cause and the record_completion_cause
// variable carry them.
const (
	RecordSilence = "success-silence"  // quiet for the final timeout after audio was heard
	RecordNoInput = "no-input-timeout" // quiet for the initial timeout, nothing heard
	// RecordDiscarded: stopped (limit, stop_record_session, hangup) with less
	// than RECORD_MIN_SEC recorded, so the file was deleted.
	RecordDiscarded = "input-too-short"
)

// SilenceWatch is a record_session media bug used as a detector of the far
// end's silence. A media bug sees every frame the leg reads, and a frame that
// brought no audio (no packet, or a comfort-noise packet) reaches it as
// low-level fill, so quiet is measured on what the leg receives whether the
// far end sends low-energy audio, comfort noise or nothing at all. FreeSWITCH
// times the quiet itself and ends the bug with a RECORD_STOP event.
type SilenceWatch struct {
	// Path is the scratch file on the FreeSWITCH host; it is deleted when the
	// bug ends (RECORD_MIN_SEC is set above Limit).
	Path      string
	Silence   time.Duration // RECORD_FINAL_TIMEOUT_MS: quiet after audio was heard
	NoInput   time.Duration // RECORD_INITIAL_TIMEOUT_MS: quiet from the start
	Threshold int           // RECORD_SILENCE_THRESHOLD, mean absolute sample value
	Limit     time.Duration // the bug's own time limit, whole seconds
}

// Arg builds record_session's "<path> +<limit> {vars}" argument: the read
// direction only (our own playback must not count as the far end talking).
func (w SilenceWatch) Arg() (string, error) {
	if !noSpacesRE.MatchString(w.Path) || strings.ContainsAny(w.Path, "{}") {
		return "", fmt.Errorf("%w: record path %q", ErrInvalidValue, w.Path)
	}
	if w.Silence <= 0 || w.NoInput <= 0 || w.Threshold <= 0 || w.Limit < time.Second {
		return "", fmt.Errorf("%w: silence watch %v quiet, %v no input, threshold %d, limit %v",
			ErrInvalidValue, w.Silence, w.NoInput, w.Threshold, w.Limit)
	}
	limit := int64((w.Limit + time.Second - 1) / time.Second)
	return fmt.Sprintf("%s +%d {RECORD_READ_ONLY=true,RECORD_INITIAL_TIMEOUT_MS=%d,RECORD_FINAL_TIMEOUT_MS=%d,"+
		"RECORD_SILENCE_THRESHOLD=%d,RECORD_MIN_SEC=%d}", w.Path, limit, w.NoInput.Milliseconds(),
		w.Silence.Milliseconds(), w.Threshold, limit+1), nil
}

// WatchSilence clears record_completion_cause (a stale value from an earlier
// recording would read as this watch's outcome) and attaches the bug. Its
// outcome arrives later as a RECORD_STOP event whose Record-File-Path is
// w.Path; if that event is lost, SilenceOutcome reads it back.
func (call *Call) WatchSilence(ctx context.Context, w SilenceWatch) error {
	arg, err := w.Arg()
	if err != nil {
		return err
	}
	if _, err := call.API(ctx, "uuid_setvar", "record_completion_cause"); err != nil {
		return err
	}
	ev, err := call.Execute(ctx, "record_session", arg)
	return appResult("record_session", ev, err)
}

// HasMediaBug reports whether a media bug with this target (a recording's
// path) is attached to the channel (uuid_buglist). record_session that cannot
// open its file attaches nothing, sends no RECORD_START and still completes
// without an error.
func (call *Call) HasMediaBug(ctx context.Context, target string) (bool, error) {
	list, err := call.API(ctx, "uuid_buglist")
	if err != nil {
		return false, err
	}
	return strings.Contains(list, "<target>"+target+"</target>"), nil
}

// SilenceOutcome reads the completion cause of the last recording that ended
// on the channel, "" while none has.
func (call *Call) SilenceOutcome(ctx context.Context) (string, error) {
	return call.GetVar(ctx, "record_completion_cause")
}

// StopWatch removes the bug (a no-op if it has ended).
func (call *Call) StopWatch(ctx context.Context, path string) error {
	if err := checkToken(path); err != nil {
		return err
	}
	_, err := call.Execute(ctx, "stop_record_session", path)
	return err
}
