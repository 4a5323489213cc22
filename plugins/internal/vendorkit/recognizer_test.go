package vendorkit

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
)

func TestConcat(t *testing.T) {
	w := func(s string) []asr.Word { return []asr.Word{{Text: s}} }
	got := Concat([]asr.Alternative{{Text: "book a", Confidence: 0.8, Words: w("a")}, {Text: "flight", Confidence: 0.6, Words: w("b")}})
	want := asr.Alternative{Text: "book a flight", Confidence: 0.8/2 + 0.6/2, Mode: "speech", Words: append(w("a"), w("b")...)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Concat = %+v, want %+v", got, want)
	}
}

func TestSettingsBackoffAndSampleRates(t *testing.T) {
	for _, tc := range []struct {
		m       map[string]string
		backoff Backoff
		rates   []int
		bad     bool
	}{
		{map[string]string{}, Backoff{3, 100 * time.Millisecond, 2 * time.Second}, []int{8000, 16000}, false},
		{map[string]string{"retries": "5", "backoff-min": "5ms", "sample-rates": "16000, 8000"}, Backoff{5, 5 * time.Millisecond, 2 * time.Second}, []int{16000, 8000}, false},
		{map[string]string{"retries": "0"}, Backoff{3, 100 * time.Millisecond, 2 * time.Second}, []int{8000, 16000}, true},
		{map[string]string{"sample-rates": "8000,4000,x"}, Backoff{3, 100 * time.Millisecond, 2 * time.Second}, []int{8000}, true},
	} {
		s := NewSettings("t", tc.m)
		b, r := s.Backoff(), s.SampleRates([]string{"8000", "16000"})
		err := s.Err(true)
		if b != tc.backoff || !reflect.DeepEqual(r, tc.rates) || (err != nil) != tc.bad {
			t.Errorf("%v: %+v %v %v", tc.m, b, r, err)
		}
	}
}

func TestDialAndWriteFailed(t *testing.T) {
	refused := errors.New("connection refused")
	if err := DialFailed("v", fmt.Errorf("dial: %w", context.Canceled)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled dial: %v", err)
	}
	if err := DialFailed("v", refused); asr.KindOf(err) != asr.ErrUnavailable || !Retryable(err) {
		t.Errorf("refused dial: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := WriteFailed(ctx, "v", refused); asr.KindOf(err) != asr.ErrUnavailable || !Retryable(err) {
		t.Errorf("broken write: %v", err)
	}
	cancel()
	if err := WriteFailed(ctx, "v", refused); !errors.Is(err, context.Canceled) {
		t.Errorf("write after cancel: %v", err)
	}
}

func TestKeepAliveSilenceAndCapabilities(t *testing.T) {
	for rate, n := range map[int]int{8000: 800, 16000: 1600} {
		if s := KeepAliveSilence(rate); len(s) != n {
			t.Errorf("KeepAliveSilence(%d) = %d samples, want %d", rate, len(s), n)
		}
	}
	if len(GrammarTypes()) != 3 || GrammarTypes()[2] != TypePhraseList || len(Builtins()) != 3 {
		t.Errorf("capabilities %v %v", GrammarTypes(), Builtins())
	}
}

func TestPrepare(t *testing.T) {
	forRequest := func(base, params map[string]string) (string, error) {
		if v := params["x"]; v != "" {
			return "", fmt.Errorf("setting x: bad %q", v)
		}
		return base["name"], nil
	}
	settings := map[string]string{"name": "v"}
	req := asr.RecognizeRequest{}
	cfg, gs, err := Prepare(&req, settings, forRequest, []int{16000, 8000})
	if err != nil || cfg != "v" || gs == nil || req.SampleRate != 16000 {
		t.Errorf("plain request: %q %v %v rate %d", cfg, gs, err, req.SampleRate)
	}
	req = asr.RecognizeRequest{SampleRate: 8000}
	if _, _, err := Prepare(&req, settings, forRequest, []int{16000}); err != nil || req.SampleRate != 8000 {
		t.Errorf("rate given: %v rate %d", err, req.SampleRate)
	}
	req = asr.RecognizeRequest{Params: map[string]string{"x": "y"}}
	if _, _, err := Prepare(&req, settings, forRequest, []int{8000}); asr.KindOf(err) != asr.ErrBadParameter || Retryable(err) {
		t.Errorf("bad parameter: %v", err)
	}
	req = asr.RecognizeRequest{Grammars: []asr.Grammar{{ID: "g", ContentType: "application/srgs+xml", Mode: "voice", Body: []byte("<grammar")}}}
	if _, _, err := Prepare(&req, settings, forRequest, []int{8000}); asr.KindOf(err) != asr.ErrBadGrammar {
		t.Errorf("bad grammar: %v", err)
	}
}
