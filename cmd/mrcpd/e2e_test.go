package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr/testkit"
	"github.com/mrcpd/mrcpd/media/audio"
	"github.com/mrcpd/mrcpd/mrcp/client"
	"github.com/mrcpd/mrcpd/mrcp/nlsml"
)

// daemonProc is a real mrcpd started by a test on loopback ports of its own.
type daemonProc struct {
	sip, mrcp, http string
	cmd             *exec.Cmd
	log             *syncBuffer
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
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// warnings is the log's WARN and ERROR lines, at most n (the last ones): what a test prints when
// requests failed inside mrcpd, without the rest of a long log.
func (s *syncBuffer) warnings(n int) string {
	var out []string
	for _, l := range strings.Split(s.String(), "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			out = append(out, l)
		}
	}
	return strings.Join(out[max(0, len(out)-n):], "\n")
}

// freePort finds a port free on 127.0.0.1 for both UDP and TCP (SIP listens on both).
func freePort(t testing.TB) int {
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
	t.Fatal("no free port")
	return 0
}

// startMrcpd runs the mrcpd binary with yaml as its config file and extra flags after ours (a
// flag given twice takes the later value); it is stopped with SIGTERM at the end of the test and
// must exit cleanly.
// newClient is a client of d, closed when the test ends.
func (d *daemonProc) newClient(t testing.TB) *client.Client {
	t.Helper()
	return d.newClientWith(t, client.Config{})
}

// newClientWith is newClient with cfg (its Server and Logger are filled in).
func (d *daemonProc) newClientWith(t testing.TB, cfg client.Config) *client.Client {
	t.Helper()
	cfg.Server, cfg.Logger = d.sip, slog.New(slog.DiscardHandler)
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func startMrcpd(t testing.TB, yaml string, extra ...string) *daemonProc {
	t.Helper()
	return startMrcpdAt(t, yaml, addr(freePort(t)), addr(freePort(t)), addr(freePort(t)), extra...)
}

// startMrcpdAt is startMrcpd on given SIP, MRCP and HTTP addresses (a restart in place).
func startMrcpdAt(t testing.TB, yaml, sipAddr, mrcpAddr, httpAddr string, extra ...string) *daemonProc {
	t.Helper()
	bin := testkit.Binary(t, "mrcpd")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mrcpd.yaml")
	yaml += fmt.Sprintf("\nrecorder:\n  dir: %s\nwaveforms:\n  dir: %s\n", filepath.Join(dir, "rec"), filepath.Join(dir, "waveforms"))
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	rtp := freePort(t) &^ 1
	d := &daemonProc{sip: sipAddr, mrcp: mrcpAddr, http: httpAddr, log: &syncBuffer{}}
	d.cmd = exec.Command(bin, "--config", cfg, "--sip-addr", d.sip, "--mrcp-addr", d.mrcp,
		"--http-addr", d.http, "--rtp-ports", fmt.Sprintf("%d-%d", rtp, rtp+200))
	d.cmd.Args = append(d.cmd.Args, extra...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if d.cmd == nil {
			return
		}
		d.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- d.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("mrcpd exit: %v\n%s", err, d.log)
			}
		case <-time.After(40 * time.Second):
			d.cmd.Process.Kill()
			t.Errorf("mrcpd did not stop on SIGTERM\n%s", d.log)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + d.http + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mrcpd not healthy: %v\n%s", err, d.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// runClient runs mrcpclient and returns its stdout.
func runClient(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testkit.Binary(t, "mrcpclient"), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("mrcpclient %v: %w\n%s", args, err, errb.String())
	}
	return out.String(), err
}

// (b) Four digits as RFC 4733 events and as in-band tones (made with sox) are recognised, and the
// NLSML carries them in DTMF mode.
func TestE2EDTMF(t *testing.T) {
	d := startMrcpd(t, "")
	tones := soxDTMF(t, "4729")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"rfc4733", []string{"--dtmf", "1234"}, "1234"},
		{"inband mrcpclient", []string{"--dtmf", "9876", "--inband"}, "9876"},
		{"inband sox wav", []string{tones}, "4729"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"recognize", "--server", d.sip, "--grammar", "builtin:dtmf/digits?length=4"}, tt.args...)
			out, err := runClient(t, args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, d.log)
			}
			i := strings.Index(out, "<?xml")
			if i < 0 {
				t.Fatalf("no NLSML in output:\n%s", out)
			}
			res, err := nlsml.Parse([]byte(out[i:]))
			if err != nil || len(res.Interpretations) != 1 {
				t.Fatalf("NLSML %v:\n%s", err, out)
			}
			in := res.Interpretations[0]
			if in.Mode != "dtmf" || nlsml.DTMFDigits(in.Input) != tt.want || in.Instance != tt.want {
				t.Fatalf("got mode %q input %q instance %q, want dtmf %s:\n%s", in.Mode, in.Input, in.Instance, tt.want, out)
			}
		})
	}
}

// soxDTMF writes digits as DTMF tones (Q.23 pairs, 100 ms on, 100 ms off) with sox.
func soxDTMF(t *testing.T, digits string) string {
	t.Helper()
	pairs := map[rune][2]int{'1': {697, 1209}, '2': {697, 1336}, '3': {697, 1477}, '4': {770, 1209},
		'5': {770, 1336}, '6': {770, 1477}, '7': {852, 1209}, '8': {852, 1336}, '9': {852, 1477}, '0': {941, 1336}}
	dir := t.TempDir()
	var parts []string
	lead := filepath.Join(dir, "silence.wav")
	sox(t, "-n", "-r", "8000", "-b", "16", "-c", "1", lead, "trim", "0", "0.3")
	parts = append(parts, lead)
	for i, d := range digits {
		p := pairs[d]
		f := filepath.Join(dir, fmt.Sprintf("d%d.wav", i))
		sox(t, "-n", "-r", "8000", "-b", "16", "-c", "1", f, "synth", "0.1", "sine", strconv.Itoa(p[0]),
			"sine", strconv.Itoa(p[1]), "remix", "-", "vol", "0.5", "pad", "0", "0.1")
		parts = append(parts, f)
	}
	parts = append(parts, lead)
	out := filepath.Join(dir, "dtmf.wav")
	sox(t, append(parts, out)...)
	return out
}

func sox(t *testing.T, args ...string) {
	t.Helper()
	if b, err := exec.Command("sox", args...).CombinedOutput(); err != nil {
		t.Fatalf("sox %v: %v\n%s", args, err, b)
	}
}

// (c) SPEAK with a synthesizer plugin whose audio is known: the tones arrive in order, and
// SPEAK-COMPLETE arrives after the last RTP packet.
func TestE2ESpeakTones(t *testing.T) {
	d := startMrcpd(t, tonePluginConfig(t))
	wav := filepath.Join(t.TempDir(), "out.wav")
	out, err := runClient(t, "speak", "--server", d.sip, "--text", "Welcome.", "--out", wav)
	if err != nil {
		t.Fatalf("%v\n%s", err, d.log)
	}
	if !strings.Contains(out, "Completion-Cause: 000 normal") {
		t.Fatalf("no SPEAK-COMPLETE 000 normal:\n%s", out)
	}
	lag := afterLastRTP(t, out)
	if lag <= 0 {
		t.Fatalf("SPEAK-COMPLETE %v after the last RTP packet, want > 0", lag)
	}
	f, err := os.Open(wav)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pcm, rate, err := audio.ReadWAV(f)
	if err != nil {
		t.Fatal(err)
	}
	if got := toneSequence(pcm, rate, []float64{500, 1000, 1500}); fmt.Sprint(got) != "[500 1000 1500]" {
		t.Fatalf("tones heard %v, want [500 1000 1500] (%d samples at %d Hz)", got, len(pcm), rate)
	}
}

// tonePluginConfig builds the synthesizer plugin of testdata/toneplugin (500, 1000 and 1500 Hz
// tones, whatever the text) and returns the engines section that makes it the synthesizer.
func tonePluginConfig(t *testing.T) string {
	t.Helper()
	plug := filepath.Join(t.TempDir(), "toneplugin")
	root, err := testkit.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", plug, "./cmd/mrcpd/testdata/toneplugin")
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build toneplugin: %v\n%s", err, b)
	}
	return fmt.Sprintf("engines:\n  plugins:\n    - {name: tone, kind: synthesizer, path: %s}\n", plug)
}

// afterLastRTP reads mrcpclient's "last RTP packet -> SPEAK-COMPLETE: D" line.
func afterLastRTP(t *testing.T, out string) time.Duration {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "last RTP packet -> SPEAK-COMPLETE: "); ok {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
	}
	t.Fatalf("no timing line in:\n%s", out)
	return 0
}

// toneSequence names the strongest of freqs in each loud 50 ms block and collapses repeats.
func toneSequence(pcm []int16, rate int, freqs []float64) []float64 {
	n := rate / 20
	var seq []float64
	for i := 0; i+n <= len(pcm); i += n {
		block := pcm[i : i+n]
		var energy float64
		for _, s := range block {
			energy += float64(s) * float64(s)
		}
		if energy/float64(n) < 1e6 {
			continue
		}
		best, bestP := 0.0, 0.0
		for _, f := range freqs {
			if p := goertzel(block, rate, f); p > bestP {
				best, bestP = f, p
			}
		}
		if len(seq) == 0 || seq[len(seq)-1] != best {
			seq = append(seq, best)
		}
	}
	return seq
}

func goertzel(x []int16, rate int, f float64) float64 {
	c := 2 * math.Cos(2*math.Pi*f/float64(rate))
	var s1, s2 float64
	for _, v := range x {
		s := float64(v) + c*s1 - s2
		s2, s1 = s1, s
	}
	return s1*s1 + s2*s2 - c*s1*s2
}

// (c) with the real espeak-ng plugin: speech arrives, then SPEAK-COMPLETE.
func TestE2ESpeakEspeak(t *testing.T) {
	plug := testkit.Binary(t, "plugins/espeak")
	d := startMrcpd(t, fmt.Sprintf("engines:\n  plugins:\n    - {name: espeak, kind: synthesizer, path: %s}\n", plug))
	wav := filepath.Join(t.TempDir(), "out.wav")
	out, err := runClient(t, "speak", "--server", d.sip, "--text", "Welcome. Please say the name of the department you want.", "--out", wav)
	if err != nil {
		t.Fatalf("%v\n%s", err, d.log)
	}
	if !strings.Contains(out, "Completion-Cause: 000 normal") {
		t.Fatalf("no SPEAK-COMPLETE 000 normal:\n%s", out)
	}
	if lag := afterLastRTP(t, out); lag <= 0 {
		t.Fatalf("SPEAK-COMPLETE %v after the last RTP packet, want > 0", lag)
	}
	f, err := os.Open(wav)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pcm, rate, err := audio.ReadWAV(f)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(len(pcm)) * time.Second / time.Duration(rate); d < time.Second {
		t.Fatalf("only %v of audio for a whole sentence", d)
	}
}
