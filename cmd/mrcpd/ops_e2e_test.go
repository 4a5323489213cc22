package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr/testkit"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/client"
	"github.com/mrcpd/mrcpd/plugins/pocketsphinx/speechset"
)

// A call live across a SIGHUP that changes the log level and adds a plugin goes on; the next
// call reaches the new plugin; debug lines appear from the reload on; a change that needs a
// restart is named in the log and not applied; a file that does not parse changes nothing.
func TestE2EReload(t *testing.T) {
	utt, err := speechset.GenerateText(context.Background(), t.TempDir(), "u", "yes", speechset.Voice{Synth: "espeak-ng", Name: "en-us"})
	if err != nil {
		t.Fatal(err)
	}
	plug := testkit.Binary(t, "plugins/noop")
	d := startMrcpd(t, "log:\n  level: info\n")
	cfgPath := d.cmd.Args[2]
	base, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, c := newClient(t, d.sip, time.Minute)
	live, err := c.Open(ctx, "speechrecog")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close(context.Background()) // a failure leaves no session for the drain to wait on
	dtmf := func(s *client.Session) {
		t.Helper()
		res, err := s.Recognize(ctx, client.RecognizeRequest{Grammar: "builtin:dtmf/digits?length=2", DTMF: "42"})
		if err != nil || !res.Success() {
			t.Fatalf("DTMF: %v %+v\n%s", err, res, d.log)
		}
	}
	dtmf(live)
	if strings.Contains(d.log.String(), "level=DEBUG") {
		t.Fatal("debug lines at log.level info")
	}

	next := strings.Replace(string(base), "level: info", "level: debug\n  format: json", 1) +
		fmt.Sprintf("engines:\n  plugins:\n    - {name: np, kind: recognizer, path: %s}\n", plug)
	reload(t, d, cfgPath, next, "configuration reloaded")
	if !regexp.MustCompile(`need a restart.*log\.format`).MatchString(d.log.String()) {
		t.Fatalf("the log.format change is not reported as needing a restart\n%s", d.log)
	}
	dtmf(live)
	s, err := c.Open(ctx, "speechrecog")
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Recognize(ctx, client.RecognizeRequest{Grammar: "builtin:speech/transcribe", Audio: utt.PCM, AudioRate: speechset.Rate,
		Headers: []mrcp.Field{{Name: "Vendor-Specific-Parameters", Value: "engine=np"}}})
	if err != nil || !strings.HasPrefix(res.Cause, "001") { // the no-op plugin hears nothing
		t.Fatalf("RECOGNIZE on the added plugin: %v %+v\n%s", err, res, d.log)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.log.String(), `level=DEBUG msg="recognizer chosen"`) {
		t.Fatalf("no debug line after the reload to log.level debug\n%s", d.log)
	}

	reload(t, d, cfgPath, next+"  bogus: [\n", "reload refused")
	dtmf(live)
	if err := live.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// newClient is a client of server, closed at the end of the test, and a context for its calls.
func newClient(t *testing.T, server string, timeout time.Duration) (context.Context, *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	c, err := client.New(client.Config{Server: server, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return ctx, c
}

// reload writes cfg to path, sends SIGHUP and waits for a new log line containing want.
func reload(t *testing.T, d *daemonProc, path, cfg, want string) {
	t.Helper()
	before := strings.Count(d.log.String(), want)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(d.log.String(), want) == before {
		if time.Now().After(deadline) {
			t.Fatalf("no %q after SIGHUP\n%s", want, d.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// /readyz answers 503 naming a plugin that has no live process (killed, and its binary gone so
// that the restart fails), while /healthz stays 200: the process is alive, it cannot serve.
func TestE2EReadyzPluginDown(t *testing.T) {
	bin, err := os.ReadFile(testkit.Binary(t, "plugins/noop"))
	if err != nil {
		t.Fatal(err)
	}
	plug := filepath.Join(t.TempDir(), "noop")
	if err := os.WriteFile(plug, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	d := startMrcpd(t, fmt.Sprintf("engines:\n  plugins:\n    - {name: np, kind: recognizer, path: %s}\n", plug))
	if code, body := get(t, d.http, "/readyz"); code != 200 {
		t.Fatalf("/readyz %d %q with the plugin running", code, body)
	}
	m := regexp.MustCompile(`plugin process started.* pid=(\d+)`).FindStringSubmatch(d.log.String())
	if m == nil {
		t.Fatalf("no plugin pid in the log\n%s", d.log)
	}
	var pid int
	fmt.Sscan(m[1], &pid)
	if err := os.Remove(plug); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, "http://"+d.http+"/readyz", http.StatusServiceUnavailable)
	if _, body := get(t, d.http, "/readyz"); !strings.Contains(body, "np") {
		t.Fatalf("/readyz body %q does not name the plugin", body)
	}
	if code, _ := get(t, d.http, "/healthz"); code != 200 {
		t.Fatalf("/healthz %d while a plugin is down", code)
	}
}

func get(t *testing.T, host, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + host + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
