package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr/testkit"
	"github.com/mrcpd/mrcpd/esl/esltest"
	"github.com/mrcpd/mrcpd/esl/flow"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func fake(t *testing.T) *esltest.Server {
	t.Helper()
	s, err := esltest.Start(esltest.Options{Numbers: map[string]esltest.Behavior{
		"15551230000": {Attendant: esltest.NewAttendant(10*time.Second, "1234")},
		"15551230001": {Attendant: esltest.NewAttendant(2*time.Second, "77")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestSingleCallDialExtension(t *testing.T) {
	s := fake(t)
	var out, errb bytes.Buffer
	code := run(ctx(t), []string{"-esl", s.Addr(), "-flow", "../../examples/flows/dial-extension.yaml",
		"-var", "number=15551230000", "-var", "extension=1234"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	var rep flow.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Result != "success" || rep.HangupCause != "NORMAL_CLEARING" {
		t.Fatalf("%+v", rep)
	}
}

func TestCampaignCommand(t *testing.T) {
	s := fake(t)
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "numbers.csv")
	if err := os.WriteFile(csvPath, []byte("number,extension\n15551230000,1234\n15551230001,77\n15551230001,99\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(ctx(t), []string{"-esl", s.Addr(), "-flow", "../../examples/flows/dial-extension.yaml",
		"-campaign", csvPath, "-concurrency", "2", "-cps", "20", "-out", filepath.Join(dir, "out")}, &out, &errb)
	// The third row's extension does not exist: one failure, exit 1.
	if code != 1 || !strings.Contains(out.String(), "3 calls: 2 succeeded, 1 failed") {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	summary, err := os.ReadFile(filepath.Join(dir, "out", "summary.csv"))
	if err != nil || strings.Count(string(summary), "\n") != 4 {
		t.Fatalf("summary %q %v", summary, err)
	}
	if !strings.Contains(errb.String(), "campaign: 3/3 done") {
		t.Fatalf("no progress line: %s", errb.String())
	}
}

func TestUsageErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(ctx(t), nil, &out, &errb); code != 2 {
		t.Fatalf("no args: exit %d", code)
	}
	if code := run(ctx(t), []string{"-flow", "nope.yaml"}, &out, &errb); code != 2 {
		t.Fatalf("missing flow: exit %d", code)
	}
	if code := run(ctx(t), []string{"-flow", "../../examples/flows/dial-extension.yaml", "-campaign", "x.csv", "-cps", "40",
		"-esl", "127.0.0.1:1"}, &out, &errb); code != 1 && code != 2 {
		t.Fatalf("exit %d", code)
	}
}

// TestListenInbound: FreeSWITCH's socket application (the fake) hands a call to
// `ivr -listen`; the speech IVR flow answers, asks, hears "sales" through the
// recogniser, and transfers; the runner then says exit and the socket closes.
func TestListenInbound(t *testing.T) {
	s, err := esltest.Start(esltest.Options{Numbers: map[string]esltest.Behavior{
		"5100": {Says: []string{"sales please"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	var out, errb syncBuffer
	exited := make(chan int, 1)
	go func() {
		exited <- run(c, []string{"-flow", "../../examples/flows/speech-ivr.yaml", "-listen", addr}, &out, &errb)
	}()
	var uuid string
	testkit.Eventually(t, "the runner listening for outbound calls", func() bool {
		uuid, err = s.Outbound(addr, "5100")
		return err == nil
	})
	testkit.Eventually(t, "the call's report", func() bool { return strings.Contains(errb.String(), "call finished") })
	cancel()
	if code := <-exited; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	ch, ok := s.Channel(uuid)
	if !ok || !ch.Answered {
		t.Fatalf("channel %+v", ch)
	}
	var apps []string
	for _, a := range ch.Apps {
		apps = append(apps, a.App+" "+a.Arg)
	}
	if len(apps) != 4 || apps[0] != "answer " || !strings.HasPrefix(apps[2], "play_and_detect_speech") || apps[3] != "transfer 1000 XML default" {
		t.Fatalf("apps %q", apps)
	}
	if !strings.Contains(errb.String(), "result=success") {
		t.Fatalf("log: %s", errb.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
