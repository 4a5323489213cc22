package grammar

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	psModel = "/usr/share/pocketsphinx/model/en-us/en-us"
	psDict  = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"
)

// TestPocketSphinxLoadsJSGF checks generated JSGF against the real engine: Debian's
// pocketsphinx_continuous (libpocketsphinx 0.8, the library the plugin links) must load each
// golden grammar, decode an utterance synthesised with espeak-ng into a hypothesis inside the
// grammar, and Interpret must turn that hypothesis into the expected SISR result.
func TestPocketSphinxLoadsJSGF(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real engine")
	}
	for _, bin := range []string{"pocketsphinx_continuous", "espeak-ng", "sox"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (make deps installs pocketsphinx, espeak-ng, sox): skipping the real-engine check", bin)
		}
	}
	if _, err := os.Stat(psDict); err != nil {
		t.Skipf("en-us model not installed: %v", err)
	}
	for _, tc := range []struct {
		grammar, say, hyp, instance string
	}{
		{"mod_unimrcp-dept.grxml", "technical support", "technical support", "support"},
		{"unimrcp-digit.grxml", "two", "two", "two"},
		{"pizza.grxml", "two large pizzas with cheese", "two large pizzas with cheese", "<count>2</count><size>large</size>"},
		{"drinks.abnf", "a large coke please", "a large coke please", "<drink>coke</drink><size>l</size>"},
		{"builtin-digits.uri", "one two three", "one two three", "123"},
		{"builtin-boolean.uri", "yes", "yes", "true"},
	} {
		t.Run(tc.grammar, func(t *testing.T) {
			t.Parallel()
			g := loadTestGrammar(t, filepath.Join("testdata", "jsgf", tc.grammar))
			jsgf, err := g.ToJSGF()
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			gram := filepath.Join(dir, "g.jsgf")
			if err := os.WriteFile(gram, []byte(jsgf), 0o644); err != nil {
				t.Fatal(err)
			}
			wav := synthesize(t, dir, tc.say)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "pocketsphinx_continuous", "-jsgf", gram, "-infile", wav,
				"-hmm", psModel, "-dict", psDict)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil || strings.Contains(stderr.String(), "ERROR:") {
				t.Fatalf("pocketsphinx_continuous: %v\n%s", err, errorLines(stderr.String()))
			}
			hyp := strings.TrimSpace(string(out))
			if hyp != tc.hyp {
				t.Fatalf("hypothesis %q, want %q", hyp, tc.hyp)
			}
			got, ok := g.Interpret(strings.Fields(hyp))
			if !ok || got != tc.instance {
				t.Fatalf("Interpret(%q) = %q, %v; want %q", hyp, got, ok, tc.instance)
			}
		})
	}
}

func synthesize(t *testing.T, dir, text string) string {
	t.Helper()
	raw, wav := filepath.Join(dir, "espeak.wav"), filepath.Join(dir, "say16k.wav")
	if out, err := exec.Command("espeak-ng", "-v", "en-us", "-s", "140", "-w", raw, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v %s", err, out)
	}
	if out, err := exec.Command("sox", raw, "-r", "16000", "-c", "1", "-b", "16", wav).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, out)
	}
	return wav
}

func errorLines(log string) string {
	var b strings.Builder
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "ERROR") || strings.Contains(l, "jsgf") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
