// Package engine is mrcpd's Deepgram recognizer: asr.Recognizer over Deepgram's streaming
// WebSocket API (/v1/listen), following its documented messages: binary linear16 audio, KeepAlive,
// Finalize and CloseStream text messages; Results (is_final, speech_final, from_finalize),
// SpeechStarted, UtteranceEnd and Metadata messages; HTTP statuses at the handshake and close frames.
package engine

import (
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/plugins/internal/vendorkit"
)

// DefaultEndpoint is Deepgram's hosted streaming endpoint.
const DefaultEndpoint = "wss://api.deepgram.com/v1/listen"

// EnvAPIKey is read when the api-key setting is empty, as Deepgram's SDKs do.
const EnvAPIKey = "DEEPGRAM_API_KEY"

// Config is the plugin's settings, validated.
type Config struct {
	Endpoints      []string
	APIKey         string
	Model          string
	Language       string
	Interim        bool
	Endpointing    int // ms of silence that make speech_final; 0: off (endpointing=false)
	UtteranceEndMS int // 0: no UtteranceEnd messages
	VADEvents      bool
	Keywords       []string // always sent, besides the grammars' words
	KeywordBoost   float64  // intensifier appended as word:boost; 0: none
	MaxKeywords    int
	Punctuate      bool
	SmartFormat    bool
	SampleRates    []int
	IdleTimeout    time.Duration
	Backoff        vendorkit.Backoff
}

var requestKeys = []string{"model", "language", "interim-results", "endpointing", "utterance-end-ms", "vad-events",
	"keywords", "keyword-boost", "punctuate", "smart-format"}

// ParseConfig reads and validates settings; every error names its setting.
func ParseConfig(m map[string]string) (Config, error) { return parse(m, true) }

func parse(m map[string]string, strict bool) (Config, error) {
	s := vendorkit.NewSettings("deepgram", m)
	c := Config{
		Endpoints:      s.List("endpoints", []string{s.String("endpoint", DefaultEndpoint)}),
		APIKey:         s.String("api-key", os.Getenv(EnvAPIKey)),
		Model:          s.String("model", "nova-2-phonecall"),
		Language:       s.String("language", "en-US"),
		Interim:        s.Bool("interim-results", true),
		UtteranceEndMS: s.Int("utterance-end-ms", 1000, 0, 5000),
		VADEvents:      s.Bool("vad-events", true),
		Keywords:       s.List("keywords", nil),
		KeywordBoost:   s.Float("keyword-boost", 0, -10, 10),
		MaxKeywords:    s.Int("max-keywords", 100, 0, 500),
		Punctuate:      s.Bool("punctuate", false),
		SmartFormat:    s.Bool("smart-format", false),
		IdleTimeout:    s.Duration("idle-timeout", 10*time.Second),
		Backoff:        s.Backoff(),
	}
	if v := strings.ToLower(s.String("endpointing", "300")); v == "false" || v == "off" {
		c.Endpointing = 0
	} else {
		c.Endpointing = s.Int("endpointing", 300, 10, 10000)
	}
	c.SampleRates = s.SampleRates([]string{"8000", "16000"})
	for _, ep := range c.Endpoints {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			s.Invalid("endpoints", "each endpoint must be a ws:// or wss:// URL, got "+strconv.Quote(ep))
		}
	}
	if c.APIKey == "" {
		s.Require("api-key", "a Deepgram API key (or set $"+EnvAPIKey+")")
	}
	if c.UtteranceEndMS > 0 && !c.Interim {
		s.Invalid("interim-results", "Deepgram sends UtteranceEnd only with interim results; set utterance-end-ms: 0 or interim-results: true")
	}
	return c, s.Err(strict)
}

func forRequest(base, params map[string]string) (Config, error) {
	return parse(vendorkit.Overlay("deepgram", base, params, requestKeys), false)
}
