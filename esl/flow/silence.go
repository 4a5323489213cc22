package flow

import (
	"context"
	"fmt"
	"time"

	"github.com/mrcpd/mrcpd/esl"
)

// watch is one silence detector on the leg, identified by its file path.
type watch struct {
	esl.SilenceWatch
	started bool   // its RECORD_START was seen
	cause   string // its RECORD_STOP's completion cause, "" until then
	resync  bool   // events may have been lost while it ran
}

// waitSilence finds the end of the far end's prompt from what the leg
// receives: a record_session media bug on the read direction, which
// FreeSWITCH ends with RECORD_STOP once the leg has heard audio and then
// silence_ms of quiet. No packets at all, comfort noise and low-energy audio
// are all quiet to it (wait_for_silence, by contrast, never hears a prompt on
// a leg without RTP sequence numbers). A lost RECORD_STOP is recovered from
// record_completion_cause when the client reports a resync or the step runs
// out of time.
func (ru *run) waitSilence(ctx context.Context, s *Step) error {
	p := s.WaitPromptEnd
	ru.watches++
	w := esl.SilenceWatch{
		Path:      fmt.Sprintf("%s/mrcpd-ivr-%s-%d.wav", orDefault(p.RecordDir, "/tmp"), ru.call.UUID, ru.watches),
		Silence:   time.Duration(orInt(p.SilenceMS, 1000)) * time.Millisecond,
		NoInput:   time.Duration(orInt(p.NoInputMS, 8000)) * time.Millisecond,
		Threshold: orInt(p.Threshold, 200),
		Limit:     ru.timeout(s),
	}
	ru.watch = &watch{SilenceWatch: w}
	defer func() { ru.watch = nil }()
	if err := ru.call.WatchSilence(ctx, w); err != nil {
		return err
	}
	if err := ru.checkStarted(ctx); err != nil {
		return err
	}
	for {
		err := ru.wait(ctx, func() bool { return ru.watch.cause != "" || ru.watch.resync })
		if err == nil && ru.watch.cause == "" {
			ru.watch.resync = false
			err = ru.readOutcome(ctx)
			if err == nil && ru.watch.cause == "" {
				continue // still running: its RECORD_STOP is yet to come
			}
		}
		if err != nil {
			return ru.abandonWatch(ctx, err)
		}
		return ru.watch.result()
	}
}

// checkStarted: RECORD_START precedes record_session's completion, so it is
// normally applied by now. Without it (late, lost, or no bug because the file
// could not be opened) the channel's bug list and outcome decide.
func (ru *run) checkStarted(ctx context.Context) error {
	ru.drain()
	if ru.watch.started || ru.watch.cause != "" {
		return nil
	}
	on, err := ru.call.HasMediaBug(ctx, ru.watch.Path)
	if err != nil || on {
		return err
	}
	if err := ru.readOutcome(ctx); err != nil || ru.watch.cause != "" {
		return err
	}
	return fail("silence detector did not start", fmt.Errorf("FreeSWITCH could not open %s: record_dir must exist "+
		"and be writable by FreeSWITCH", ru.watch.Path))
}

// readOutcome takes the detector's outcome from the channel variable, for when
// its RECORD_STOP may have been lost.
func (ru *run) readOutcome(ctx context.Context) error {
	cause, err := ru.call.SilenceOutcome(ctx)
	if err == nil && cause != "" {
		ru.watch.cause = cause
		ru.mark("", "record_stop", "read back: "+cause)
	}
	return err
}

// abandonWatch: the wait failed (timeout, hangup, transport). A detector that
// ended unseen still decides; otherwise it is removed so it does not outlive
// the step.
func (ru *run) abandonWatch(ctx context.Context, err error) error {
	if ru.state.hungup {
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rerr := ru.readOutcome(cctx); rerr == nil && ru.watch.cause != "" {
		return ru.watch.result()
	}
	if serr := ru.call.StopWatch(cctx, ru.watch.Path); serr != nil {
		ru.warn("stopping the silence detector: " + serr.Error())
	}
	return err
}

func (w *watch) result() error {
	switch w.cause {
	case esl.RecordSilence:
		return nil
	case esl.RecordNoInput:
		return fail("no prompt heard", fmt.Errorf("nothing above energy %d for %v", w.Threshold, w.NoInput))
	case esl.RecordDiscarded, "success-maxtime":
		return fail("never quiet", fmt.Errorf("no %v below energy %d within %v (a noisy line needs a higher threshold)",
			w.Silence, w.Threshold, w.Limit))
	}
	return fail("silence detector ended without silence", fmt.Errorf("%s", w.cause))
}

// timeout is the step's own or the runner's default.
func (ru *run) timeout(s *Step) time.Duration {
	if s.Timeout > 0 {
		return s.Timeout.D()
	}
	return ru.r.StepTimeout
}
