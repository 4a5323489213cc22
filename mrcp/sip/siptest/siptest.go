// Package siptest runs the real sipp (Debian's sip-tester) against a SIP server in tests, with
// the scenarios in mrcp/sip/testdata: INVITEs shaped exactly like FreeSWITCH mod_unimrcp's (no
// Contact header, the same SDP), ACK and BYE, with the 200 OK's MRCP answer checked by sipp.
package siptest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
)

// Scenarios shipped in mrcp/sip/testdata.
const (
	ModUnimrcpRecog = "mod_unimrcp-recog.xml" // speechrecog: sendonly audio offered, recvonly answered
	ModUnimrcpSynth = "mod_unimrcp-synth.xml" // speechsynth: recvonly offered, sendonly answered
)

// Scenario is the path of a scenario file of mrcp/sip/testdata.
func Scenario(t testing.TB, name string) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("siptest: cannot locate the testdata directory")
	}
	p := filepath.Join(filepath.Dir(file), "..", "testdata", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("siptest: %v", err)
	}
	return p
}

// RunSipp runs one call of scenario (a path, or a name from Scenario) against target
// (host:port) and fails t unless sipp exits 0, which it does only when every check of the
// scenario passed. UDP by default; pass "-t", "t1" in extra for TCP. sipp's error log and
// output are reported on failure.
func RunSipp(t testing.TB, scenario, target string, extra ...string) {
	t.Helper()
	if err := Sipp(t, scenario, target, extra...); err != nil {
		t.Fatal(err)
	}
}

// Sipp is RunSipp returning the failure instead of failing t (for tests that expect one).
func Sipp(t testing.TB, scenario, target string, extra ...string) error {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatalf("siptest: sipp not found (Debian package sip-tester; `make deps` installs it): %v", err)
	}
	if _, err := os.Stat(scenario); err != nil {
		scenario = Scenario(t, scenario)
	}
	dir := t.TempDir()
	errFile := filepath.Join(dir, "errors.log")
	transport := []string{"-t", "u1"}
	if slices.Contains(extra, "-t") {
		transport = nil
	}
	args := []string{target, "-sf", scenario, "-m", "1", "-i", "127.0.0.1",
		"-p", strconv.Itoa(FreePort(t)), "-timeout", "20s", "-timeout_error", "-nostdin",
		"-key", "audio_port", strconv.Itoa(FreePort(t)), "-trace_err", "-error_file", errFile}
	args = append(append(args, transport...), extra...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		errs, _ := os.ReadFile(errFile)
		return fmt.Errorf("siptest: sipp %v: %w\n--- errors\n%s\n--- output (tail)\n%s", args, err, errs, tail(out.Bytes(), 3000))
	}
	return nil
}

// FreePort finds a port free on 127.0.0.1 for both UDP and TCP (SIP listens on both).
func FreePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("siptest: no free port")
	return 0
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
