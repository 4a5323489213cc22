package capture

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mrcpd/mrcpd/media/audio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeNow is a clock the test moves by hand.
type fakeNow struct{ t time.Time }

func (c *fakeNow) now() time.Time { return c.t }

func open(t *testing.T, cfg Config) (*Store, *fakeNow) {
	t.Helper()
	clock := &fakeNow{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	cfg.Now = clock.now
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, clock
}

func ramp(n int, from int16) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = from + int16(i)
	}
	return pcm
}

func readWAV(t *testing.T, path string) ([]int16, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pcm, rate, err := audio.ReadWAV(f)
	if err != nil {
		t.Fatal(err)
	}
	return pcm, rate
}

// TestStreamsToDisk: audio reaches the file while the capture runs, with a header that already
// describes it (a process killed now leaves a playable file), and Close reports size and duration.
func TestStreamsToDisk(t *testing.T) {
	s, _ := open(t, Config{})
	w, err := s.Create("a.wav", 8000, "")
	if err != nil {
		t.Fatal(err)
	}
	var sent []int16
	for i := range 60 { // 1.2 s of 20 ms frames: past one flush
		f := ramp(160, int16(i))
		sent = append(sent, f...)
		if err := w.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	mid, _ := readWAV(t, s.Path("a.wav"))
	if len(mid) != 8000 || !slices.Equal(mid, sent[:8000]) {
		t.Fatalf("mid-capture the file holds %d samples, want the first 8000", len(mid))
	}
	info, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	got, rate := readWAV(t, info.Path)
	if rate != 8000 || !slices.Equal(got, sent) {
		t.Fatalf("file: rate %d, %d samples; want 8000 and %d", rate, len(got), len(sent))
	}
	if info.Size != 44+2*int64(len(sent)) || info.Duration != 1200*time.Millisecond || s.Bytes() != info.Size {
		t.Fatalf("info %+v, store bytes %d", info, s.Bytes())
	}
}

// TestQuota: a store that does not evict refuses audio beyond MaxBytes, keeps what it had and
// counts files already in the directory at Open.
func TestQuota(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "old.wav"), make([]byte, 1000), 0o640); err != nil {
		t.Fatal(err)
	}
	s, _ := open(t, Config{Dir: dir, MaxBytes: 1000 + 44 + 640})
	if s.Bytes() != 1000 {
		t.Fatalf("existing file counted as %d bytes", s.Bytes())
	}
	w, err := s.Create("r.wav", 8000, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ramp(320, 0)); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ramp(160, 0)); !errors.Is(err, ErrQuota) {
		t.Fatalf("write past the quota: %v", err)
	}
	if err := w.Write(ramp(1, 0)); !errors.Is(err, ErrQuota) {
		t.Fatalf("a capture resumes after the quota: %v", err)
	}
	info, err := w.Close()
	if err != nil || info.Samples != 320 {
		t.Fatalf("close: %v, %d samples", err, info.Samples)
	}
	if _, err := s.Create("next.wav", 8000, ""); !errors.Is(err, ErrQuota) {
		t.Fatalf("create in a full store: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "old.wav")); err != nil {
		t.Fatal("a quota store deleted a file")
	}
}

// TestRetention: an evicting store deletes the oldest released files for room and by age, never
// a file whose session lives or that is being written.
func TestRetention(t *testing.T) {
	s, clock := open(t, Config{MaxBytes: 3 * (44 + 320), MaxAge: time.Hour, Evict: true})
	mk := func(name, owner string) {
		w, err := s.Create(name, 8000, owner)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(ramp(160, 0)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Close(); err != nil {
			t.Fatal(err)
		}
		clock.t = clock.t.Add(time.Minute)
	}
	mk("1.wav", "live")
	mk("2.wav", "gone")
	mk("3.wav", "gone")
	s.Release("gone")
	mk("4.wav", "") // needs room: 2.wav, the oldest released, goes; 1.wav is pinned
	if exists(s, "2.wav") || !exists(s, "1.wav") || !exists(s, "3.wav") || !exists(s, "4.wav") {
		t.Fatalf("after eviction: 1 %v 2 %v 3 %v 4 %v", exists(s, "1.wav"), exists(s, "2.wav"), exists(s, "3.wav"), exists(s, "4.wav"))
	}
	w, err := s.Create("5.wav", 8000, "")
	if err != nil {
		t.Fatal(err)
	}
	clock.t = clock.t.Add(2 * time.Hour)
	s.Prune()
	if exists(s, "3.wav") || exists(s, "4.wav") || !exists(s, "1.wav") || !exists(s, "5.wav") {
		t.Fatal("age retention: want 3 and 4 gone, the pinned 1 and the open 5 kept")
	}
	w.Discard()
	if exists(s, "5.wav") || s.Bytes() != 44+320 {
		t.Fatalf("discard left the file or %d bytes counted", s.Bytes())
	}
}

func exists(s *Store, name string) bool {
	_, err := os.Stat(s.Path(name))
	return err == nil
}

// TestHandler serves finished files only, by the names the store made.
func TestHandler(t *testing.T) {
	s, _ := open(t, Config{})
	w, _ := s.Create(NewName(), 8000, "x")
	srv := httptest.NewServer(s.Handler("/waveforms/"))
	defer srv.Close()
	get := func(path string) (int, []byte) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := get("/waveforms/" + w.Name()); code != 404 {
		t.Fatalf("a capture being written is served: %d", code)
	}
	w.Write(ramp(160, 5))
	info, _ := w.Close()
	code, body := get("/waveforms/" + w.Name())
	want, _ := os.ReadFile(info.Path)
	if code != 200 || !bytes.Equal(body, want) {
		t.Fatalf("GET: %d, %d bytes; want 200 and the file", code, len(body))
	}
	os.WriteFile(filepath.Join(filepath.Dir(s.Dir()), "secret.wav"), []byte("x"), 0o600)
	for _, p := range []string{"/waveforms/../secret.wav", "/waveforms/%2e%2e%2fsecret.wav", "/waveforms/nope.wav", "/other/" + w.Name()} {
		if code, _ := get(p); code != 404 {
			t.Fatalf("GET %s: %d", p, code)
		}
	}
	resp, err := http.Post(srv.URL+"/waveforms/"+w.Name(), "audio/wav", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
}

func TestCreateRejectsNames(t *testing.T) {
	s, _ := open(t, Config{})
	for _, n := range []string{"../x.wav", "a/b.wav", ".wav", "x.txt", "a b.wav", ""} {
		if _, err := s.Create(n, 8000, ""); !errors.Is(err, ErrName) {
			t.Fatalf("Create(%q): %v", n, err)
		}
	}
}
