package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr/testkit"
	"github.com/mrcpd/mrcpd/mrcp/client/load"
)

// mrcpdWithTones runs the real mrcpd with cmd/mrcpd's tone synthesizer plugin and the no-op
// recognizer (DTMF grammars are mrcpd's own), and more mrcpd flags.
func mrcpdWithTones(t *testing.T, yaml string, extra ...string) string {
	t.Helper()
	root, err := testkit.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plug := filepath.Join(dir, "toneplugin")
	build := exec.Command("go", "build", "-o", plug, "./cmd/mrcpd/testdata/toneplugin")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the tone plugin: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "mrcpd.yaml")
	yaml = fmt.Sprintf("engines:\n  recognizer: noop\n  synthesizer: tone\n  plugins:\n    - {name: tone, kind: synthesizer, path: %s}\n%s", plug, yaml)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return startMrcpd(t, append([]string{"--config", cfg}, extra...)...)
}

// runLoadJSON runs `mrcpclient load --json` in this process and decodes its report.
func runLoadJSON(t *testing.T, args ...string) (int, *load.Report, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, append(append([]string{"load"}, args...), "--json"), &out, &errb)
	var rep load.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("exit %d, report not JSON: %v\n%s\nstderr:\n%s", code, err, out.String(), errb.String())
	}
	return code, &rep, out.String() + errb.String()
}

func checkLatency(t *testing.T, name string, l load.Latency, count int) {
	t.Helper()
	if l.Count != count || l.P50 <= 0 || l.P50 > l.P95 || l.P95 > l.P99 || l.P99 > l.Max {
		t.Errorf("%s: %+v, want %d ordered positive samples", name, l, count)
	}
}

// The tool against the real mrcpd: 9 sessions recognize RFC 4733 digits and 3 SPEAK, two turns
// each, and every figure of the JSON report is there and adds up.
func TestLoadAgainstMrcpd(t *testing.T) {
	server := mrcpdWithTones(t, "")
	code, rep, out := runLoadJSON(t, "--server", server, "-n", "12", "--rate", "40", "--turns", "2",
		"--grammar", "builtin:dtmf/digits?length=4", "--dtmf", "4071", "--speak", "Hello.", "--speak-share", "0.25",
		"--progress", "200ms")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	s := rep.Sessions
	if s.Attempted != 12 || s.OK != 12 || s.Failed != 0 || len(s.ByReason) != 0 || rep.PeakOpen < 1 || rep.Server != server {
		t.Errorf("sessions %+v, peak %d, server %q", s, rep.PeakOpen, rep.Server)
	}
	checkLatency(t, "INVITE", rep.Invite, 12)
	checkLatency(t, "RECOGNIZE", rep.RecognizeInProgress, 18)
	checkLatency(t, "end of audio", rep.AudioEndToComplete, 18)
	checkLatency(t, "SPEAK", rep.SpeakFirstRTP, 6)
	if rep.Recognitions.Completed != 18 || rep.Recognitions.ByCause["000 success"] != 18 {
		t.Errorf("recognitions %+v", rep.Recognitions)
	}
	if rep.Speaks.Completed != 6 || rep.Speaks.ByCause["000 normal"] != 6 {
		t.Errorf("speaks %+v", rep.Speaks)
	}
	if a := rep.Accuracy; a == nil || a.Checked != 18 || a.Right != 18 || a.Rate != 1 {
		t.Errorf("accuracy %+v", a)
	}
	// A digit is 12 packets; a recognition ends on the fourth's first end packet (the fifth).
	if tx := rep.RTPSent; tx.Packets < 18*(3*12+5) || tx.Errors != 0 || tx.Dropped != 0 {
		t.Errorf("sent %+v", tx)
	}
	if rx := rep.RTPReceived; rx.Packets < 6 || rx.Missing != 0 {
		t.Errorf("received %+v", rx)
	}

	// SPEAKs alone, held past their end, and recognitions cut short by the hold's end (STOP
	// then BYE, as mod_unimrcp hangs up): none of it is a failure.
	for _, tc := range []struct {
		args                 []string
		speaks, recognitions int
	}{
		{[]string{"--speak", "Hello.", "--turns", "1"}, 3, 0},
		{[]string{"--grammar", "builtin:dtmf/digits?length=4", "--dtmf", "40", "--header", "No-Input-Timeout: 60000"}, 0, 0},
	} {
		args := append([]string{"--server", server, "-n", "3", "--rate", "50", "--hold", "1500ms", "--progress", "0"}, tc.args...)
		code, rep, out := runLoadJSON(t, args...)
		if code != 0 || rep.Sessions.OK != 3 || rep.Speaks.Completed != tc.speaks || rep.Recognitions.Completed != tc.recognitions {
			t.Errorf("%q: exit %d\n%s", tc.args, code, out)
		}
	}
}

// Failures are counted by reason: mrcpd at capacity refuses three of five INVITEs; the two it
// takes hear 4071 where 1111 was expected, which costs accuracy, not the sessions.
func TestLoadCountsFailures(t *testing.T) {
	server := mrcpdWithTones(t, "sip:\n  max_sessions: 2\n")
	code, rep, out := runLoadJSON(t, "--server", server, "-n", "5", "--rate", "100", "--hold", "1500ms", "--turns", "1",
		"--grammar", "builtin:dtmf/digits?length=4", "--dtmf", "4071", "--expect", "1111", "--progress", "0")
	if code != 1 || !strings.Contains(out, "3 of 5 sessions failed") {
		t.Errorf("exit %d\n%s", code, out)
	}
	s := rep.Sessions
	if s.Attempted != 5 || s.OK != 2 || s.Failed != 3 || s.ByReason["INVITE answered 503"] != 3 || len(s.ByReason) != 1 ||
		!strings.Contains(s.Examples["INVITE answered 503"], "503") {
		t.Errorf("sessions %+v", s)
	}
	if a := rep.Accuracy; a == nil || a.Checked != 2 || a.Right != 0 || a.Wrong["4 0 7 1"] != 2 {
		t.Errorf("accuracy %+v", a)
	}
	if rep.Invite.Count != 2 {
		t.Errorf("INVITE latency of %d sessions, want the 2 accepted", rep.Invite.Count)
	}
}

func TestLoadUsage(t *testing.T) {
	for _, args := range [][]string{
		{"load"},
		{"load", "--grammar", "builtin:dtmf/boolean"},
		{"load", "--grammar", "builtin:dtmf/boolean", "--dtmf", "1", "x.wav"},
		{"load", "--speak", "hi", "--dtmf", "1"},
		{"load", "--speak", "hi", "-n", "0"},
		{"load", "--speak", "hi", "--loss", "2"},
		{"load", "--idle", "--dtmf", "1"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("run(%q) = %d, want 2\n%s", args, code, errb.String())
		}
	}
}
