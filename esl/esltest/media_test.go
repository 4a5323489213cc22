package esltest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/esl"
)

// mediaCall dials the fake and originates one call to an attendant with a 2 s
// greeting (answer at 1 s, greeting from 1.3 s to 3.3 s of channel time).
func mediaCall(t *testing.T, endpoint string, att *Attendant) (*esl.Call, context.Context) {
	t.Helper()
	s, err := Start(Options{Numbers: map[string]Behavior{"100": {Attendant: att}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	c, err := esl.Dial(ctx, esl.Config{Addr: s.Addr(), Password: "ClueCon", HeartbeatInterval: -1, Clock: clock.NewFakeAt(Epoch)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	call, err := c.Originate(ctx, esl.OriginateRequest{Dial: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(call.Release)
	return call, ctx
}

func greeting(idle Idle, noise int) *Attendant {
	a := NewAttendant(2*time.Second, "1")
	a.Idle, a.NoiseLevel = idle, noise
	a.DigitTimeout = time.Minute // no re-prompt while a test listens
	return a
}

// sinceEpoch is an event's date in channel time (calls start at Epoch).
func sinceEpoch(t *testing.T, ev *esl.Event) time.Duration {
	us, err := strconv.ParseInt(ev.Get("Event-Date-Timestamp"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.UnixMicro(us).Sub(Epoch)
}

// TestWaitForSilenceAsFreeSWITCHRunsIt: wait_for_silence 200 50 10 30000
// after a 2 s greeting, frame by frame as switch_ivr_wait_for_silence does.
func TestWaitForSilenceAsFreeSWITCHRunsIt(t *testing.T) {
	cases := []struct {
		name, endpoint string
		att            *Attendant
		timeout        string
		end            time.Duration
	}{
		// Nothing after the greeting: synthesised CNG frames score 0.
		// Silence after 50 quiet frames, then 25 more frames.
		{"rtp/nothing", "sofia/gateway/pstn/100", greeting(IdleNothing, 0), "false", 3300*time.Millisecond + 1500*time.Millisecond},
		{"rtp/comfort_noise", "sofia/gateway/pstn/100", greeting(IdleComfortNoise, 0), "false", 4800 * time.Millisecond},
		{"rtp/quiet_noise", "sofia/gateway/pstn/100", greeting(IdleNoise, 60), "false", 4800 * time.Millisecond},
		// Line noise above the threshold is never silence: 30 s of frames.
		{"rtp/loud_noise", "sofia/gateway/pstn/100", greeting(IdleNoise, 300), "true", 31 * time.Second},
		// Loopback frames carry no RTP sequence number: the greeting is
		// never heard as audio, so silence never starts counting.
		{"loopback/nothing", "loopback/100/default", greeting(IdleNothing, 0), "true", 31 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			call, ctx := mediaCall(t, c.endpoint, c.att)
			ev, err := call.Execute(ctx, "wait_for_silence", "200 50 10 30000")
			if err != nil {
				t.Fatal(err)
			}
			if got := ev.Var("wait_for_silence_timeout"); got != c.timeout {
				t.Fatalf("wait_for_silence_timeout %q, want %q", got, c.timeout)
			}
			if c.name == "loopback/nothing" && ev.Var("wait_for_silence_listenhits") != "0" {
				t.Fatalf("listen hits %q on loopback", ev.Var("wait_for_silence_listenhits"))
			}
			if at := sinceEpoch(t, ev); at != c.end {
				t.Fatalf("returned at %v, want %v", at, c.end)
			}
		})
	}
}

// TestRecordSessionSilenceDetector: record_session's media bug with
// RECORD_FINAL_TIMEOUT_MS ends with RECORD_STOP success-silence 1 s after the
// greeting, whatever the leg and whatever arrives once the far end is quiet.
// RECORD_START comes before the application's completion.
func TestRecordSessionSilenceDetector(t *testing.T) {
	for _, endpoint := range []string{"loopback/100/default", "sofia/gateway/pstn/100"} {
		for _, idle := range []Idle{IdleNothing, IdleComfortNoise, IdleNoise} {
			t.Run(endpoint+"/"+idle.String(), func(t *testing.T) {
				call, ctx := mediaCall(t, endpoint, greeting(idle, 0))
				_, err := call.Execute(ctx, "record_session",
					"${temp_dir}/x.wav +30 {RECORD_READ_ONLY=true,RECORD_INITIAL_TIMEOUT_MS=8000,RECORD_FINAL_TIMEOUT_MS=1000,RECORD_MIN_SEC=31}")
				if err != nil {
					t.Fatal(err)
				}
				names, stop := eventsUntil(t, ctx, call, "RECORD_STOP")
				if !strings.Contains(names, "RECORD_START CHANNEL_EXECUTE_COMPLETE RECORD_STOP") {
					t.Fatalf("events %s", names)
				}
				if stop.Get("Record-Completion-Cause") != esl.RecordSilence || stop.Get("Record-File-Path") != "/tmp/x.wav" ||
					stop.Get("Recording-Variable-RECORD_FINAL_TIMEOUT_MS") != "1000" {
					t.Fatalf("RECORD_STOP %v", stop.Headers)
				}
				if at := sinceEpoch(t, stop); at != 4320*time.Millisecond {
					t.Fatalf("RECORD_STOP at %v, want 4.32s", at)
				}
				if v, _ := call.GetVar(ctx, "RECORD_DISCARDED"); v != "true" {
					t.Fatal("short file not discarded")
				}
			})
		}
	}
}

// TestRecordSessionCauses: nothing heard (no-input-timeout), and a plain
// recording cut by a hangup: RECORD_STOP between CHANNEL_HANGUP and
// CHANNEL_HANGUP_COMPLETE, with success-silence as FreeSWITCH reports it.
func TestRecordSessionCauses(t *testing.T) {
	t.Run("no_input", func(t *testing.T) {
		call, ctx := mediaCall(t, "sofia/gateway/pstn/100", greeting(IdleNothing, 0))
		if _, err := call.Execute(ctx, "sleep", "3000"); err != nil { // the greeting is over
			t.Fatal(err)
		}
		if _, err := call.Execute(ctx, "record_session", "/tmp/y.wav {RECORD_INITIAL_TIMEOUT_MS=2000,RECORD_FINAL_TIMEOUT_MS=1000}"); err != nil {
			t.Fatal(err)
		}
		_, stop := eventsUntil(t, ctx, call, "RECORD_STOP")
		if c := stop.Get("Record-Completion-Cause"); c != esl.RecordNoInput {
			t.Fatalf("cause %q", c)
		}
		if v, _ := call.GetVar(ctx, "record_completion_cause"); v != esl.RecordNoInput {
			t.Fatalf("record_completion_cause %q", v)
		}
	})
	t.Run("hangup", func(t *testing.T) {
		call, ctx := mediaCall(t, "sofia/gateway/pstn/100", greeting(IdleNothing, 0))
		if _, err := call.Execute(ctx, "record_session", "/tmp/z.wav"); err != nil {
			t.Fatal(err)
		}
		if err := call.Hangup(ctx, ""); err != nil {
			t.Fatal(err)
		}
		names, stop := eventsUntil(t, ctx, call, esl.EventChannelHangupComplete)
		if !strings.HasSuffix(names, "CHANNEL_HANGUP RECORD_STOP CHANNEL_HANGUP_COMPLETE") {
			t.Fatalf("events %s", names)
		}
		_ = stop
	})
}

// eventsUntil reads the call's events up to the first named one.
func eventsUntil(t *testing.T, ctx context.Context, call *esl.Call, name string) (string, *esl.Event) {
	t.Helper()
	var names []string
	for {
		ev, err := call.Next(ctx)
		if err != nil {
			t.Fatalf("after %v: %v", names, err)
		}
		names = append(names, ev.Name)
		if ev.Name == name {
			return strings.Join(names, " "), ev
		}
	}
}
