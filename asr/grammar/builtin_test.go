package grammar

import (
	"errors"
	"strings"
	"testing"
)

// keys pushes every key and returns the state after each, as a compact string like "IICF".
func keys(g *Grammar, ks string) (string, *DTMFMatcher) {
	m := g.NewDTMFMatcher()
	var b strings.Builder
	for _, k := range ks {
		b.WriteByte("NICF"[m.Push(k)])
	}
	return b.String(), m
}

func TestBuiltinDTMFDigits(t *testing.T) {
	for _, tc := range []struct {
		uri, keys, states, interp string
	}{
		{"builtin:dtmf/digits", "12345", "CCCCC", "12345"},
		{"builtin:dtmf/digits", "1#", "CN", ""},
		{"builtin:dtmf/digits?length=4", "1234", "IIIF", "1234"},
		{"builtin:dtmf/digits?length=4", "12345", "IIIFN", ""},
		{"builtin:dtmf/digits?length=1", "7", "F", "7"},
		{"builtin:dtmf/digits;length=3", "000", "IIF", "000"},
		{"builtin:dtmf/digits?minlength=2;maxlength=4", "1234", "ICCF", "1234"},
		{"builtin:dtmf/digits?minlength=2&maxlength=4", "12", "IC", "12"},
		{"builtin:dtmf/digits?minlength=3", "123456", "IICCCC", "123456"},
		{"builtin:dtmf/digits?maxlength=2", "123", "CFN", ""},
		{"builtin:dtmf/digits?minlength=2;maxlength=2", "99", "IF", "99"},
		{"BUILTIN:DTMF/DIGITS?LENGTH=2", "12", "IF", "12"},
		{"builtin:dtmf/boolean", "1", "F", "true"},
		{"builtin:dtmf/boolean", "2", "F", "false"},
		{"builtin:dtmf/boolean", "3", "N", ""},
		{"builtin:dtmf/boolean", "11", "FN", ""},
	} {
		t.Run(tc.uri+"/"+tc.keys, func(t *testing.T) {
			g, err := Builtin(tc.uri)
			if err != nil {
				t.Fatal(err)
			}
			if g.Mode != ModeDTMF || g.URI != tc.uri {
				t.Fatalf("mode %q uri %q", g.Mode, g.URI)
			}
			states, m := keys(g, tc.keys)
			if states != tc.states || m.Interpretation() != tc.interp || m.Digits() != tc.keys {
				t.Fatalf("states %s interp %q digits %q; want %s %q", states, m.Interpretation(), m.Digits(), tc.states, tc.interp)
			}
		})
	}
}

func TestBuiltinVoice(t *testing.T) {
	for _, tc := range []struct {
		uri, said, want string
		ok              bool
	}{
		{"builtin:grammar/boolean", "yes", "true", true},
		{"builtin:grammar/boolean", "Nope", "false", true},
		{"builtin:grammar/boolean", "yes no", "", false},
		{"builtin:grammar/digits", "one oh seven", "107", true},
		{"builtin:grammar/digits", "zero", "0", true},
		{"builtin:grammar/digits", "", "", false},
		{"builtin:grammar/digits?length=3", "one two", "", false},
		{"builtin:grammar/digits?length=3", "one two three", "123", true},
		{"builtin:grammar/digits?maxlength=2", "one two three", "", false},
		{"builtin:speech/transcribe", "anything at all", "anything at all", true},
	} {
		g, err := Builtin(tc.uri)
		if err != nil {
			t.Fatal(err)
		}
		if g.Mode != ModeVoice {
			t.Fatalf("%s: mode %q", tc.uri, g.Mode)
		}
		got, ok := g.Interpret(strings.Fields(tc.said))
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s %q: %q %v, want %q %v", tc.uri, tc.said, got, ok, tc.want, tc.ok)
		}
		if st, _ := keys(g, "1"); st != "N" {
			t.Errorf("%s: a voice grammar matched DTMF: %s", tc.uri, st)
		}
	}
	g, _ := Builtin("builtin:speech/transcribe")
	if !g.Dictation || len(g.Words()) != 0 {
		t.Fatalf("transcribe: %+v", g)
	}
	if _, err := g.ToJSGF(); !errors.Is(err, ErrDictation) {
		t.Fatalf("transcribe ToJSGF: %v", err)
	}
	g, _ = Builtin("builtin:grammar/digits")
	if w := strings.Join(g.Words(), " "); w != "eight five four nine oh one seven six three two zero" {
		t.Fatalf("digits words: %s", w)
	}
}

func TestBuiltinErrors(t *testing.T) {
	for _, tc := range []struct {
		uri      string
		cause    Cause
		sentinel error
	}{
		{"builtin:dtmf/currency", CauseLoadFailure, ErrUnknownBuiltin},
		{"session:foo", CauseLoadFailure, ErrUnknownBuiltin},
		{"builtin", CauseLoadFailure, ErrUnknownBuiltin},
		{"builtin:dtmf/digits?length=0", CauseCompileFailure, ErrBadParameter},
		{"builtin:dtmf/digits?length=-1", CauseCompileFailure, ErrBadParameter},
		{"builtin:dtmf/digits?length=x", CauseCompileFailure, ErrBadParameter},
		{"builtin:dtmf/digits?length=1001", CauseCompileFailure, ErrBadParameter},
		{"builtin:dtmf/digits?minlength=5;maxlength=4", CauseCompileFailure, ErrBadParameter},
		{"builtin:dtmf/digits?length=4;minlength=2", CauseCompileFailure, ErrBadParameter},
		{"builtin:dtmf/digits?length=4;maxlength=5", CauseCompileFailure, ErrBadParameter},
		{"builtin:dtmf/digits?size=4", CauseCompileFailure, ErrBadParameter},
		{"builtin:dtmf/digits?length", CauseCompileFailure, ErrBadParameter},
		{"builtin:dtmf/boolean?y=1", CauseCompileFailure, ErrBadParameter},
	} {
		_, err := Builtin(tc.uri)
		var ge *Error
		if !errors.As(err, &ge) || ge.Cause != tc.cause || !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.uri) {
			t.Errorf("%s: %v, want cause %v %v naming the URI", tc.uri, err, tc.cause, tc.sentinel)
		}
	}
}
