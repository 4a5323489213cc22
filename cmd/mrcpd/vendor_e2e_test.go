package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mrcpd/mrcpd/asr/testkit"
	"github.com/mrcpd/mrcpd/plugins/deepgram/deepgramtest"
	"github.com/mrcpd/mrcpd/plugins/google/googletest"
	"github.com/mrcpd/mrcpd/plugins/pocketsphinx/speechset"
	"github.com/mrcpd/mrcpd/plugins/vosk/vosktest"
)

// Issue #6: the same RECOGNIZE from mrcpclient (one WAV of "yes", builtin:grammar/boolean) through
// the real mrcpd gets an NLSML result from PocketSphinx, Google, Deepgram and Vosk: the
// configurations differ only in the recognizer plugin. The vendors are their local stand-ins,
// which answer whatever speech they hear with their script.
func TestE2EVendorSwitchByConfig(t *testing.T) {
	wav := yesWAV(t)
	script := googletest.Script{Transcript: "yes"}
	// Each case starts its vendor (if any) and says whether the vendor served a stream, and which
	// words the NLSML must carry ("" for any that the grammar maps to true: PocketSphinx may hear
	// "yeah").
	tests := []struct {
		name  string
		start func(t *testing.T) (settings map[string]string, served func() bool)
		input string
	}{
		{"pocketsphinx", func(*testing.T) (map[string]string, func() bool) { return nil, func() bool { return true } }, ""},
		{"google", func(t *testing.T) (map[string]string, func() bool) {
			s, ep := googletest.Start(t, script)
			return googletest.PluginSettings(ep), func() bool { return s.Streams() > 0 }
		}, "yes"},
		{"deepgram", func(t *testing.T) (map[string]string, func() bool) {
			s, ep := deepgramtest.Start(t, script)
			return deepgramtest.PluginSettings(ep), func() bool { return s.Connections() > 0 }
		}, "yes"},
		{"vosk", func(t *testing.T) (map[string]string, func() bool) {
			s, ep := vosktest.Start(t, script)
			return vosktest.PluginSettings(ep), func() bool { return len(s.Configs()) > 0 }
		}, "yes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			settings, served := tt.start(t)
			plugin := PluginConfig{Name: tt.name, Kind: "recognizer", Path: testkit.Binary(t, "plugins/"+tt.name), Settings: settings}
			d := startMrcpd(t, speechConfig(t, EnginesConfig{Recognizer: tt.name, Plugins: []PluginConfig{plugin}}))
			out, err := runClient(t, "recognize", "--server", d.sip, "--grammar", "builtin:grammar/boolean", wav)
			if err != nil {
				t.Fatalf("%v\n%s", err, d.log)
			}
			in := onlyInterpretation(t, out)
			if in.Instance != "true" || tt.input != "" && in.Input != tt.input {
				t.Fatalf("heard %q (instance %q), want %q (instance \"true\"):\n%s", in.Input, in.Instance, tt.input, out)
			}
			if !served() {
				t.Fatalf("the %s stand-in served no stream", tt.name)
			}
			t.Logf("%s: heard %q, instance %q, confidence %.2f", tt.name, in.Input, in.Instance, in.Confidence)
		})
	}
}

// yesWAV is one spoken "yes" followed by the silence vendors need to endpoint by themselves (at
// least 0.5 s).
func yesWAV(t *testing.T) string {
	t.Helper()
	utts := generateSpeech(t, map[string]int{speechset.Boolean: 1},
		speechset.Options{Voices: []speechset.Voice{{Synth: "espeak-ng", Name: "en-us", Speed: 150}}, Pad: 800})
	if len(utts) != 1 || utts[0].Text != "yes" {
		t.Fatalf("generated %+v, want one \"yes\"", utts)
	}
	wav := filepath.Join(t.TempDir(), "yes.wav")
	if err := os.WriteFile(wav, speechset.WAV(utts[0].PCM, speechset.Rate), 0o644); err != nil {
		t.Fatal(err)
	}
	return wav
}

// Issue 11: one out-of-grammar policy for every engine, decided by mrcpd. A vendor that answers
// "banana" to a billing/sales/support grammar ends the RECOGNIZE with 001 no-match (it was 000
// success with the instance "banana"); the transcript is kept as its own instance only when the
// request asks for free text. A transcript the grammar accepts, capitals and punctuation included,
// gets the grammar's interpretation.
func TestE2EOutOfGrammarTranscript(t *testing.T) {
	wav := yesWAV(t)
	gram := filepath.Join(t.TempDir(), "departments.abnf")
	if err := os.WriteFile(gram, []byte("#ABNF 1.0;\nmode voice;\ntag-format <semantics/1.0>;\nroot $d;\n"+
		"$d = billing {out=\"B\";} | sales {out=\"S\";} | support {out=\"T\";};\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	vendor, ep := googletest.Start(t, googletest.Script{})
	plugin := PluginConfig{Name: "google", Kind: "recognizer", Path: testkit.Binary(t, "plugins/google"), Settings: googletest.PluginSettings(ep)}
	d := startMrcpd(t, speechConfig(t, EnginesConfig{Recognizer: "google", Plugins: []PluginConfig{plugin}}))
	for _, tc := range []struct {
		said, params string
		cause, inst  string // inst "": no result
	}{
		{"Billing.", "", "000", "B"},
		{"banana", "", "001 no-match", ""},
		{"banana", "free-text=true", "000", "banana"},
	} {
		vendor.SetScript(googletest.Script{Transcript: tc.said})
		args := []string{"recognize", "--server", d.sip, "--grammar", gram}
		if tc.params != "" {
			args = append(args, "--header", "Vendor-Specific-Parameters: "+tc.params)
		}
		out, err := runClient(t, append(args, wav)...)
		if tc.inst == "" {
			if err == nil || !strings.Contains(err.Error(), tc.cause) {
				t.Errorf("%q %s: got %v, want %s\n%s", tc.said, tc.params, err, tc.cause, out)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q %s: %v\n%s", tc.said, tc.params, err, d.log)
		}
		if in := onlyInterpretation(t, out); in.Instance != tc.inst || in.Grammar == "" {
			t.Errorf("%q %s: instance %q grammar %q, want %q", tc.said, tc.params, in.Instance, in.Grammar, tc.inst)
		}
	}
}
