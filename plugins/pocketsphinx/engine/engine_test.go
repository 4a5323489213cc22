package engine

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/asrtest"
	"github.com/mrcpd/mrcpd/asr/testkit"
	"github.com/mrcpd/mrcpd/mrcp/mrcptest"
	"github.com/mrcpd/mrcpd/plugins/pocketsphinx/speechset"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		if setDir != "" {
			os.RemoveAll(setDir)
		}
		if mllrDir != "" {
			os.RemoveAll(mllrDir)
		}
	}))
}

// The spoken test set is generated once per test binary (synthesis is the slow part).
var (
	setOnce sync.Once
	setDir  string
	setUtts []speechset.Utterance
	setErr  error
)

func speech(t testing.TB) []speechset.Utterance {
	t.Helper()
	setOnce.Do(func() {
		setDir, setErr = os.MkdirTemp("", "speechset-")
		// Sized for CI (2 cores, -race): every voice speaks every set; synthesis dominates.
		for _, p := range []struct {
			set string
			n   int
		}{{speechset.Digits, 24}, {speechset.Boolean, 16}, {speechset.Menu, 24}, {speechset.Dictation, 8}} {
			if setErr != nil {
				return
			}
			var u []speechset.Utterance
			u, setErr = speechset.Generate(context.Background(), setDir, speechset.Options{Sets: []string{p.set}, PerSet: p.n})
			setUtts = append(setUtts, u...)
		}
	})
	if errors.Is(setErr, speechset.ErrNoSynth) {
		t.Skip(setErr)
	}
	if setErr != nil {
		t.Fatal(setErr)
	}
	return setUtts
}

func find(t testing.TB, set, text, synth string) speechset.Utterance {
	t.Helper()
	for _, u := range speech(t) {
		if u.Set == set && u.Text == text && (synth == "" || u.Voice.Synth == synth) {
			return u
		}
	}
	t.Fatalf("no utterance %q in set %s", text, set)
	return speechset.Utterance{}
}

// fixtureMenu is the SRGS grammar with SISR tags that mod_unimrcp sends in DEFINE-GRAMMAR.
func fixtureMenu(t testing.TB) asr.Grammar {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(mrcptest.Fixtures(t), "freeswitch-mod_unimrcp", "07-DEFINE-GRAMMAR-file-srgs-sisr.mrcp"))
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n\n")
	if !ok {
		t.Fatal("fixture has no body")
	}
	return asr.Grammar{ID: "2410e7c6-b893-4903-a60e-9832d88be640", ContentType: "application/srgs+xml", Body: []byte(body), Mode: "voice"}
}

func TestRecognizeRejects(t *testing.T) {
	e := newTestEngine(t, DefaultConfig())
	ctx := context.Background()
	bad := `<?xml version="1.0"?><grammar xmlns="http://www.w3.org/2001/06/grammar" version="1.0" mode="voice" root="r" xml:lang="en-US">` +
		`<rule id="r"><one-of><item>billing</item><item>flurbomatic zyxxq</item></one-of></rule></grammar>`
	tests := []struct {
		name string
		req  asr.RecognizeRequest
		kind asr.ErrorKind
		msg  string
	}{
		{"words not in dictionary", asr.RecognizeRequest{Grammars: []asr.Grammar{{ID: "g1", ContentType: "application/srgs+xml", Body: []byte(bad), Mode: "voice"}}},
			asr.ErrBadGrammar, "flurbomatic, zyxxq"},
		{"malformed grammar", asr.RecognizeRequest{Grammars: []asr.Grammar{{ID: "g2", ContentType: "application/srgs+xml", Body: []byte("<grammar"), Mode: "voice"}}},
			asr.ErrBadGrammar, "g2"},
		{"language", asr.RecognizeRequest{Language: "fr-FR"}, asr.ErrLanguage, "fr-FR"},
		{"sample rate", asr.RecognizeRequest{SampleRate: 8000}, asr.ErrBadParameter, "8000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := e.Recognize(ctx, tt.req)
			if err == nil {
				st.Close()
				t.Fatal("Recognize succeeded")
			}
			if k := asr.KindOf(err); k != tt.kind {
				t.Errorf("kind %v, want %v (%v)", k, tt.kind, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not name %q", err, tt.msg)
			}
		})
	}
}

func TestRecognizeEvents(t *testing.T) {
	e := newTestEngine(t, DefaultConfig())
	u := find(t, speechset.Boolean, "yes", "flite")
	st, err := e.Recognize(context.Background(), asr.RecognizeRequest{SampleRate: 16000, Interim: true, NBest: 2,
		Grammars: []asr.Grammar{{ID: "builtin:grammar/boolean", URI: "builtin:grammar/boolean", Mode: "voice"},
			{ID: "builtin:dtmf/boolean", URI: "builtin:dtmf/boolean", Mode: "dtmf"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pcm := upsample(u.PCM)
	go func() {
		for i := 0; i < len(pcm); i += 320 {
			if st.Send(&asr.Audio{PCM: pcm[i:min(i+320, len(pcm))]}) != nil {
				return
			}
		}
		st.Send(&asr.FinalizeInput{})
	}()
	var kinds []string
	var final *asr.Final
	for {
		ev, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch ev := ev.(type) {
		case *asr.Ready:
			kinds = append(kinds, "ready")
			if len(ev.Skipped) != 1 || ev.Skipped[0].ID != "builtin:dtmf/boolean" {
				t.Errorf("skipped %+v, want the dtmf grammar", ev.Skipped)
			}
		case *asr.SpeechStarted:
			kinds = append(kinds, "start")
		case *asr.SpeechEnded:
			kinds = append(kinds, "end")
		case *asr.Final:
			kinds = append(kinds, "final")
			final = ev
		case *asr.Usage:
			kinds = append(kinds, "usage")
			if ev.Audio <= 0 {
				t.Errorf("usage %v", ev.Audio)
			}
		}
	}
	got := strings.Join(kinds, " ")
	if got != "ready start end final usage" {
		t.Errorf("events %q, want ready start end final usage", got)
	}
	a, ok := top(final)
	if !ok {
		t.Fatal("no match")
	}
	if a.Interpretation != "true" || a.Grammar != "builtin:grammar/boolean" || a.Mode != "speech" {
		t.Errorf("alternative %+v", a)
	}
	if len(a.Words) != 1 || a.Words[0].Text != a.Text || a.Words[0].End <= a.Words[0].Start {
		t.Errorf("words %+v", a.Words)
	}
}

func TestRecognizeSISR(t *testing.T) {
	e := newTestEngine(t, DefaultConfig())
	u := find(t, speechset.Menu, "billing", "flite")
	res, err := recognize(context.Background(), e, asr.RecognizeRequest{NBest: 1, Grammars: []asr.Grammar{fixtureMenu(t)}}, upsample(u.PCM))
	if err != nil {
		t.Fatal(err)
	}
	a, ok := top(res.final)
	if !ok || a.Text != "billing" || a.Interpretation != "billing" || a.Grammar != "2410e7c6-b893-4903-a60e-9832d88be640" {
		t.Errorf("final %+v", res.final)
	}
}

func TestRecognizeCancel(t *testing.T) {
	e := newTestEngine(t, DefaultConfig())
	ctx, cancel := context.WithCancel(context.Background())
	st, err := e.Recognize(ctx, asr.RecognizeRequest{SampleRate: 16000, Grammars: []asr.Grammar{{ID: "b", URI: "builtin:grammar/boolean", Mode: "voice"}}})
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := st.Recv(); err != nil {
		t.Fatal(err)
	} else if _, ok := ev.(*asr.Ready); !ok {
		t.Fatalf("first event %T", ev)
	}
	if err := st.Send(&asr.Audio{PCM: make([]int16, 1600)}); err != nil {
		t.Fatal(err)
	}
	cancel()
	for {
		_, err := st.Recv()
		if err == nil {
			continue
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Recv after cancel: %v", err)
		}
		break
	}
	st.Close()
	if n := len(e.pool.slots); n != 0 {
		t.Errorf("%d decoders still out of the pool", n)
	}
	if err := st.Send(&asr.Audio{PCM: make([]int16, 10)}); err == nil {
		t.Error("Send after Close succeeded")
	}
}

// TestReadyWhileThePoolIsBusy: a stream that waits for a decoder acknowledges its start at once,
// so that asr/plugin's ready timeout, which finds plugins that stopped answering, does not fail
// recognitions queued behind a busy pool (a CI run failed every recognition of a loaded machine so:
// 006 recognizer-error five seconds in); it recognizes once the decoder is free.
func TestReadyWhileThePoolIsBusy(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PoolSize, cfg.IdleDecoders = 1, 1
	e := newTestEngine(t, cfg)
	req := asr.RecognizeRequest{SampleRate: 16000, Grammars: []asr.Grammar{{ID: "b", URI: "builtin:grammar/boolean", Mode: "voice"}}}
	first, err := e.Recognize(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Send(&asr.Audio{PCM: make([]int16, 320)}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the first stream to hold the only decoder", func() bool { return len(e.pool.slots) == 1 })
	second, err := e.Recognize(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	ready := make(chan asr.Event, 1)
	go func() {
		ev, _ := second.Recv()
		ready <- ev
	}()
	select {
	case ev := <-ready:
		if _, ok := ev.(*asr.Ready); !ok {
			t.Fatalf("second stream's first event %T, want *asr.Ready", ev)
		}
	case <-time.After(testkit.EventuallyTimeout):
		t.Fatal("no Ready on a stream waiting for the pool's only decoder")
	}
	if len(e.pool.slots) != 1 {
		t.Fatal("the second stream got a decoder while the first held the only one")
	}
	first.Close()
	res, err := recognizeOn(second, asrtest.Speak(t, "yes", 16000))
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := top(res.final); !ok || a.Interpretation != "true" {
		t.Errorf("second stream, once the decoder was free: %+v", res.final)
	}
}

// TestFrontEndSettingsWin: the model's feat.params must not override our front-end settings
// (pocketsphinx 0.8 reads it after the command line), while its other settings still apply.
func TestFrontEndSettingsWin(t *testing.T) {
	cfg := DefaultConfig()
	cfg.UpperF, cfg.LowerF, cfg.CMNInit = 3500, 200, "41,-5,0"
	e := newTestEngine(t, cfg)
	d, err := e.pool.get(context.Background(), grammarDecoder, "")
	if err != nil {
		t.Fatal(err)
	}
	defer e.pool.put(d, true)
	for name, want := range map[string]float64{"-upperf": 3500, "-lowerf": 200, "-samprate": 16000} {
		if got := d.configFloat(name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for name, want := range map[string]string{"-cmn": "live", "-cmninit": "41,-5,0", "-feat": "1s_c_d_dd", "-svspec": "0-12/13-25/26-38", "-transform": "dct", "-featparams": os.DevNull} {
		if got := d.configString(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

// TestDecoderLeavesTheLogAlone: sphinxbase's log is one FILE for the whole process. A -logfn per
// decoder made every ps_init close it and open another while other decoders wrote to it (every
// ps_end_utt logs), and two decoders created at once by concurrent streams crashed the plugin
// (SIGSEGV in mrcpd_ps_init). Logging is turned off once instead, and creating a decoder must
// leave it off.
func TestDecoderLeavesTheLogAlone(t *testing.T) {
	e := newTestEngine(t, DefaultConfig())
	for _, kind := range []decoderKind{grammarDecoder, dictationDecoder} {
		d, err := e.pool.create(kind)
		if err != nil {
			t.Fatal(err)
		}
		open := logOpen()
		d.free()
		if open {
			t.Fatalf("creating a %v decoder opened sphinxbase's process-wide log", kind)
		}
	}
}

// TestArgsCannotReopenTheLog: -logfn in the args setting would have every ps_init reopen the
// process-wide log that TestDecoderLeavesTheLogAlone keeps off, and decoders created while others
// ended utterances crashed the plugin or deadlocked it in glibc's stream locks (a process that
// still answered pings but never again a recognition). The setting is refused, naming it.
func TestArgsCannotReopenTheLog(t *testing.T) {
	cfg, err := FromSettings(map[string]string{"args": "-logfn " + os.DevNull})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg)
	if err == nil {
		e.Close()
		t.Fatal("New accepted args -logfn")
	}
	if !strings.Contains(err.Error(), "setting args") || !strings.Contains(err.Error(), "-logfn") {
		t.Fatalf("error %q does not name the setting and the argument", err)
	}
}
