// Package engine is mrcpd's Google Cloud Speech-to-Text recognizer: asr.Recognizer over
// StreamingRecognize (speech v1) with Google's own Go client library.
package engine

import (
	"time"

	"github.com/mrcpd/mrcpd/plugins/internal/vendorkit"
)

// Config is the plugin's settings, validated.
type Config struct {
	Endpoints       []string // host:port, tried in order with failover
	Credentials     string   // service-account JSON file; "" uses Application Default Credentials
	Insecure        bool     // plaintext gRPC, no credentials: local stand-ins and private gateways
	Language        string   // default Speech-Language
	Model           string
	UseEnhanced     bool
	Interim         bool
	SingleUtterance bool
	VoiceEvents     bool // enable_voice_activity_events: SPEECH_ACTIVITY_BEGIN/END
	MaxAlternatives int  // ceiling for N-Best-List-Length
	Punctuation     bool
	WordTimes       bool
	Phrases         []string // speech-context phrases added to every request
	Boost           float64  // speech-context boost, 0: none
	MaxPhrases      int      // phrases taken from grammars
	SampleRates     []int
	StreamLimit     time.Duration // Google's stream cap, declared so the host heals before it
	IdleTimeout     time.Duration // Google's audio timeout, declared so the host sends KeepAlive
	Backoff         vendorkit.Backoff
}

// DefaultEndpoint is Google's public endpoint.
const DefaultEndpoint = "speech.googleapis.com:443"

// requestKeys are the settings a Vendor-Specific-Parameter may change per RECOGNIZE.
var requestKeys = []string{"language", "model", "use-enhanced", "interim-results", "single-utterance",
	"voice-activity-events", "max-alternatives", "punctuation", "word-times", "phrases", "boost"}

// ParseConfig reads and validates settings; every error names its setting.
func ParseConfig(m map[string]string) (Config, error) {
	return parse(m, true)
}

func parse(m map[string]string, strict bool) (Config, error) {
	s := vendorkit.NewSettings("google", m)
	c := Config{
		Endpoints:       s.List("endpoints", []string{s.String("endpoint", DefaultEndpoint)}),
		Credentials:     s.String("credentials", ""),
		Insecure:        s.Bool("insecure", false),
		Language:        s.String("language", "en-US"),
		Model:           s.String("model", "phone_call"),
		UseEnhanced:     s.Bool("use-enhanced", false),
		Interim:         s.Bool("interim-results", true),
		SingleUtterance: s.Bool("single-utterance", true),
		VoiceEvents:     s.Bool("voice-activity-events", true),
		MaxAlternatives: s.Int("max-alternatives", 5, 1, 30),
		Punctuation:     s.Bool("punctuation", false),
		WordTimes:       s.Bool("word-times", true),
		Phrases:         s.List("phrases", nil),
		Boost:           s.Float("boost", 0, 0, 20),
		MaxPhrases:      s.Int("max-phrases", 500, 0, 5000),
		StreamLimit:     s.Duration("stream-limit", 305*time.Second),
		IdleTimeout:     s.Duration("idle-timeout", 10*time.Second),
		Backoff:         s.Backoff(),
	}
	for _, r := range s.List("sample-rates", []string{"8000", "16000"}) {
		rs := vendorkit.NewSettings("google", map[string]string{"sample-rates": r})
		c.SampleRates = append(c.SampleRates, rs.Int("sample-rates", 0, 8000, 48000))
		if err := rs.Err(false); err != nil {
			return c, err
		}
	}
	if c.Insecure && c.Credentials != "" {
		s.Invalid("insecure", "credentials are never sent over plaintext; drop insecure or credentials")
	}
	return c, s.Err(strict)
}

// forRequest lays a RECOGNIZE's Vendor-Specific-Parameters over the plugin settings.
func forRequest(base map[string]string, params map[string]string) (Config, error) {
	return parse(vendorkit.Overlay("google", base, params, requestKeys), false)
}
