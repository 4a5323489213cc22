// Package testkit holds what tests of every package of this module share: the module's binaries
// built once per test process, and Eventually for conditions that other goroutines make true. It
// imports only the standard library and sits below asr, the bottom of the module's import graph, so
// that the tests of every package, the plugins' included, may use it without importing mrcp/ or
// media (the module's top level is fixed by the product: it has no internal/).
package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	buildMu  sync.Mutex
	built    = map[string]string{}
	buildDir string
)

// Binary returns the path of a binary of this module: cmd/<name> (mrcpd, mrcpclient, ...) or
// plugins/<name> when name is "plugins/<name>". It uses $MRCPD_BIN_DIR (set by `make test`,
// where plugins live in bin/plugins/) when the binary is there, and otherwise builds it once per
// test process, so `go test ./...` works on its own.
func Binary(t testing.TB, name string) string {
	t.Helper()
	if dir := os.Getenv("MRCPD_BIN_DIR"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[name]; ok {
		return p
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	if buildDir == "" {
		buildDir, err = os.MkdirTemp("", "mrcpd-bin-")
		if err != nil {
			t.Fatalf("testkit: %v", err)
		}
	}
	pkg := "./cmd/" + name
	if strings.HasPrefix(name, "plugins/") {
		pkg = "./" + name
	}
	out := filepath.Join(buildDir, filepath.FromSlash(name))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testkit: go build %s: %v\n%s", pkg, err, b)
	}
	built[name] = out
	return out
}

// ModuleRoot is the directory holding this module's go.mod.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}
