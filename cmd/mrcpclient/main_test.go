package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr/testkit"
	"github.com/mrcpd/mrcpd/mrcp/sip/siptest"
)

// startMrcpd runs the real mrcpd on free loopback ports until the test ends, with extra flags
// after ours; it returns the SIP address once mrcpd logged that it is ready.
func startMrcpd(t *testing.T, extra ...string) string {
	t.Helper()
	bin := testkit.Binary(t, "mrcpd")
	sipAddr := "127.0.0.1:" + strconv.Itoa(siptest.FreePort(t))
	rtp := 20000 + 2*(os.Getpid()%2000)
	cmd := exec.Command(bin, "--sip-addr", sipAddr,
		"--mrcp-addr", "127.0.0.1:"+strconv.Itoa(siptest.FreePort(t)),
		"--http-addr", "127.0.0.1:"+strconv.Itoa(siptest.FreePort(t)),
		"--rtp-ports", fmt.Sprintf("%d-%d", rtp, rtp+200))
	cmd.Args = append(cmd.Args, extra...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	var logs bytes.Buffer
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "mrcpd ready") {
				close(ready)
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		<-logDone
		if t.Failed() {
			t.Logf("mrcpd log:\n%s", logs.String())
		}
	})
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatal("mrcpd not ready")
	}
	return sipAddr
}

// mrcpclient runs the real mrcpclient binary and returns its exit code, stdout and stderr.
func mrcpclient(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testkit.Binary(t, "mrcpclient"), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// soxDTMF writes digits as in-band tone pairs (100 ms on, 100 ms off) with sox.
func soxDTMF(t *testing.T, digits string) string {
	t.Helper()
	freqs := map[rune][2]int{'1': {697, 1209}, '2': {697, 1336}, '3': {697, 1477}, '4': {770, 1209},
		'5': {770, 1336}, '6': {770, 1477}, '7': {852, 1209}, '8': {852, 1336}, '9': {852, 1477}, '0': {941, 1336}}
	dir := t.TempDir()
	var parts []string
	for i, d := range digits {
		p := filepath.Join(dir, fmt.Sprintf("d%d.wav", i))
		f := freqs[d]
		out, err := exec.Command("sox", "-n", "-r", "8000", "-c", "1", "-b", "16", p, "synth", "0.1",
			"sine", strconv.Itoa(f[0]), "sine", "mix", strconv.Itoa(f[1]), "vol", "0.4", "pad", "0.1", "0.1").CombinedOutput()
		if err != nil {
			t.Fatalf("sox: %v\n%s", err, out)
		}
		parts = append(parts, p)
	}
	all := filepath.Join(dir, "dtmf.wav")
	if out, err := exec.Command("sox", append(parts, all)...).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v\n%s", err, out)
	}
	return all
}

// TestRecognizeDTMFAgainstMrcpd: the real mrcpclient against the real mrcpd recognises a
// 4-digit string sent as RFC 4733 events, as in-band tones it generates, and as a WAV of tones
// made with sox, and prints the NLSML with the digits.
func TestRecognizeDTMFAgainstMrcpd(t *testing.T) {
	server := startMrcpd(t)
	wav := soxDTMF(t, "4071")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"rfc4733 udp", []string{"--dtmf", "4071"}},
		{"inband tcp", []string{"--dtmf", "4071", "--inband", "--transport", "tcp"}},
		{"sox wav", []string{wav}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"recognize", "--server", server, "--grammar", "builtin:dtmf/digits?length=4"}, tc.args...)
			code, out, errOut := mrcpclient(t, args...)
			if code != 0 || !strings.Contains(out, "<instance>4071</instance>") || !strings.Contains(out, `<input mode="dtmf">`) {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
		})
	}
	t.Run("no match exits 1", func(t *testing.T) {
		code, _, errOut := mrcpclient(t, "recognize", "--server", server, "--grammar", "builtin:dtmf/boolean", "--dtmf", "7")
		if code != 1 || !strings.Contains(errOut, "001 no-match") {
			t.Fatalf("exit %d\nstderr:\n%s", code, errOut)
		}
	})
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"recognize"}, {"recognize", "--grammar", "builtin:dtmf/boolean"}, {"speak", "--text", "x"}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("run(%q) = %d, want 2\n%s", args, code, errb.String())
		}
	}
}

// TestSippAgainstMrcpd (Must-show a): the real sipp sends an INVITE shaped exactly like
// mod_unimrcp's (no Contact, the same SDP), ACK and BYE to the real mrcpd and checks the answer.
func TestSippAgainstMrcpd(t *testing.T) {
	server := startMrcpd(t)
	for _, tc := range []struct {
		name, scenario string
		extra          []string
	}{
		{"recog udp", siptest.ModUnimrcpRecog, nil},
		{"synth udp", siptest.ModUnimrcpSynth, nil},
		{"recog tcp", siptest.ModUnimrcpRecog, []string{"-t", "t1"}},
	} {
		t.Run(tc.name, func(t *testing.T) { siptest.RunSipp(t, tc.scenario, server, tc.extra...) })
	}
}

func TestHeaderFlag(t *testing.T) {
	var h headerFlags
	if err := h.Set("No-Input-Timeout: 3000"); err != nil || len(h) != 1 || h[0].Name != "No-Input-Timeout" || h[0].Value != "3000" {
		t.Fatalf("Set: %v %+v", err, h)
	}
	if err := h.Set("no colon"); err == nil {
		t.Error("accepted a header without a colon")
	}
}
