package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr/testkit"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/client"
	"github.com/mrcpd/mrcpd/plugins/pocketsphinx/speechset"
)

// BenchmarkRecognize500 is the plugin-boundary target measured on mrcpd itself: 500 concurrent
// recognitions, each a SIP session with G.711 RTP carrying a 2.6 s spoken sentence into a
// RECOGNIZE that ends by mrcpd's endpointer, against the built-in no-op recognizer (in-process)
// and against the same engine as a plugin process (plugins/noop). Two mrcpds run side by side and
// each op loads one then the other, alternating which goes first, so that the shared machine's
// drift falls on both. Reported per op (the 500 recognitions, set-up to BYE): user+system CPU of
// each mrcpd and its plugin processes (inproc-cpu-ms, plugin-cpu-ms), the plugin process's share
// (plugin-proc-ms), and their ratio (the target: at most 1.5). The load driver (this process) is
// not counted. asr/plugin's BenchmarkPluginStreams500 measures the boundary against an empty loop.
//
//	go test -run '^$' -bench Recognize500 -benchtime 4x ./cmd/mrcpd/
func BenchmarkRecognize500(b *testing.B) {
	const n = 500
	utt, err := speechset.GenerateText(context.Background(), b.TempDir(), "u", "please transfer me to customer service",
		speechset.Voice{Synth: "espeak-ng", Name: "en-us", Speed: 150})
	if err != nil {
		b.Skip(err)
	}
	plug := testkit.Binary(b, "plugins/noop")
	inproc := loadTarget(b, "engines:\n  recognizer: noop\n", n)
	plugin := loadTarget(b, fmt.Sprintf("engines:\n  recognizer: noop-plugin\n  plugins:\n    - {name: noop-plugin, kind: recognizer, path: %s}\n", plug), n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var cpuIn, cpuPlug, cpuProc time.Duration
	i := 0
	for b.Loop() {
		order := []*target{inproc, plugin}
		if i%2 == 1 {
			order = []*target{plugin, inproc}
		}
		i++
		for _, t := range order {
			total, children := t.load(b, ctx, utt.PCM, n)
			if t == inproc {
				cpuIn += total
			} else {
				cpuPlug += total
				cpuProc += children
			}
		}
	}
	per := func(d time.Duration) float64 { return float64(d.Milliseconds()) / float64(b.N) }
	b.ReportMetric(per(cpuIn), "inproc-cpu-ms/op")
	b.ReportMetric(per(cpuPlug), "plugin-cpu-ms/op")
	b.ReportMetric(per(cpuProc), "plugin-proc-ms/op")
	b.ReportMetric(float64(cpuPlug)/float64(cpuIn), "ratio")
}

// target is one mrcpd under load and the client driving it.
type target struct {
	d *daemonProc
	c *client.Client
}

func loadTarget(b *testing.B, yaml string, n int) *target {
	rtp := freePort(b) &^ 1
	d := startMrcpd(b, yaml, "--rtp-ports", fmt.Sprintf("%d-%d", rtp, min(rtp+4*n, 65534)))
	c := d.newClient(b)
	return &target{d: d, c: c}
}

// load runs n recognitions arriving over 1 s and returns the CPU mrcpd and its plugins spent,
// and the plugins' share.
func (t *target) load(b *testing.B, ctx context.Context, pcm []int16, n int) (total, children time.Duration) {
	pid := t.d.cmd.Process.Pid
	before, beforeChildren := procTreeCPU(b, pid)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * 2 * time.Millisecond)
			errs <- oneRecognition(ctx, t.c, pcm)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatalf("%v\n%s", err, tail(t.d.log.String(), 3000))
		}
	}
	after, afterChildren := procTreeCPU(b, pid)
	return after - before, afterChildren - beforeChildren
}

func oneRecognition(ctx context.Context, c *client.Client, pcm []int16) error {
	s, err := c.Open(ctx, "speechrecog")
	if err != nil {
		return err
	}
	res, err := s.Recognize(ctx, client.RecognizeRequest{Grammar: "builtin:speech/transcribe", Audio: pcm, AudioRate: speechset.Rate,
		Headers: []mrcp.Field{{Name: mrcp.HeaderRecognitionTimeout, Value: "20000"}}})
	if err == nil && !strings.HasPrefix(res.Cause, "001") { // the no-op hears nothing: no-match
		err = fmt.Errorf("RECOGNITION-COMPLETE %s, want 001 no-match", res.Cause)
	}
	if cerr := s.Close(context.WithoutCancel(ctx)); err == nil {
		err = cerr
	}
	return err
}

// procTreeCPU is the user+system CPU of pid and its child processes (the plugins), and of the
// children alone.
func procTreeCPU(t testing.TB, pid int) (total, children time.Duration) {
	t.Helper()
	total = statCPU(t, pid)
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, c := range strings.Fields(string(b)) {
			if child, err := strconv.Atoi(c); err == nil {
				cpu := statCPU(t, child)
				total += cpu
				children += cpu
			}
		}
	}
	return total, children
}

func statCPU(t testing.TB, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// utime and stime are the 14th and 15th fields, in clock ticks (USER_HZ, 100 on Linux).
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestE2ENoopRecognizer: the built-in no-op recognizer and its plugin twin both end a spoken
// RECOGNIZE with 001 no-match at end of speech, as the load benchmark relies on.
func TestE2ENoopRecognizer(t *testing.T) {
	utt, err := speechset.GenerateText(context.Background(), t.TempDir(), "u", "yes", speechset.Voice{Synth: "espeak-ng", Name: "en-us"})
	if err != nil {
		t.Skip(err)
	}
	plug := testkit.Binary(t, "plugins/noop")
	for name, yaml := range map[string]string{
		"builtin": "engines:\n  recognizer: noop\n",
		"plugin":  fmt.Sprintf("engines:\n  recognizer: np\n  plugins:\n    - {name: np, kind: recognizer, path: %s}\n", plug),
	} {
		t.Run(name, func(t *testing.T) {
			d := startMrcpd(t, yaml)
			c, err := client.New(client.Config{Server: d.sip, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := oneRecognition(ctx, c, utt.PCM); err != nil {
				t.Fatalf("%v\n%s", err, d.log)
			}
		})
	}
}
