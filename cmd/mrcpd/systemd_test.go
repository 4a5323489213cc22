package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr/testkit"
)

// conf/systemd/mrcpd.service drains on stop (SIGTERM to mrcpd alone, for longer than the drain
// timeout), runs hardened as its own user, and passes systemd-analyze verify and a security
// exposure below 3 ("OK") where systemd-analyze exists.
func TestSystemdUnit(t *testing.T) {
	root, err := testkit.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile(filepath.Join(root, "conf", "systemd", "mrcpd.service"))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(unit)))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k, "#") {
			keys[k] = v
		}
	}
	for k, want := range map[string]string{"KillMode": "mixed", "KillSignal": "SIGTERM", "User": "mrcpd",
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ReadWritePaths": "/var/lib/mrcpd",
		"ExecReload": "/bin/kill -HUP $MAINPID"} {
		if keys[k] != want {
			t.Errorf("%s=%q, want %q", k, keys[k], want)
		}
	}
	stop, err := strconv.Atoi(keys["TimeoutStopSec"])
	if drain := DefaultConfig().SIP.DrainTimeout.D(); err != nil || time.Duration(stop)*time.Second <= drain {
		t.Errorf("TimeoutStopSec=%q does not exceed sip.drain_timeout %v", keys["TimeoutStopSec"], drain)
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed: the unit's syntax is not verified")
	}
	// verify checks that ExecStart exists: point it at a real mrcpd.
	copyPath := filepath.Join(t.TempDir(), "mrcpd.service")
	text := strings.Replace(string(unit), "/opt/mrcpd/bin/mrcpd", testkit.Binary(t, "mrcpd"), 1)
	if err := os.WriteFile(copyPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", copyPath).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command(analyze, "security", "--offline=true", copyPath).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for mrcpd.service: ([0-9.]+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level >= 3 {
		t.Errorf("exposure level %.1f, want below 3\n%s", level, out)
	}
}
