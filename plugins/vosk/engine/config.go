// Package engine is mrcpd's Vosk recognizer: asr.Recognizer over the WebSocket JSON protocol of the
// open-source vosk-server (websocket/asr_server.py): a {"config": {...}} text message, binary
// 16-bit PCM frames each answered by {"partial": ...} or a result, and {"eof" : 1} for the final
// result, after which the server closes.
package engine

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/plugins/internal/vendorkit"
)

// DefaultEndpoint is where vosk-server listens by default.
const DefaultEndpoint = "ws://127.0.0.1:2700"

// Config is the plugin's settings, validated.
type Config struct {
	Endpoints       []string
	Header          http.Header // extra handshake headers, e.g. a proxy's Authorization
	SampleRates     []int
	Grammar         bool // send grammar phrases as phrase_list (needs a model with a dynamic graph)
	Unk             bool // add "[unk]" to the phrase list so out-of-grammar speech is not forced into it
	Words           bool // ask for word times and confidences
	MaxAlternatives int  // ceiling for N-Best-List-Length; 0 asks for the plain result form
	Interim         bool
	VoskEndpoint    bool          // end the utterance at Vosk's own first result instead of at Finalize
	IdleTimeout     time.Duration // a proxy's idle timeout to declare, so the host sends KeepAlive
	Backoff         vendorkit.Backoff
}

var requestKeys = []string{"grammar", "unk", "words", "max-alternatives", "interim-results", "endpointing"}

// ParseConfig reads and validates settings; every error names its setting.
func ParseConfig(m map[string]string) (Config, error) { return parse(m, true) }

func parse(m map[string]string, strict bool) (Config, error) {
	s := vendorkit.NewSettings("vosk", m)
	c := Config{
		Endpoints:       s.List("endpoints", []string{s.String("endpoint", DefaultEndpoint)}),
		Header:          http.Header{},
		Grammar:         s.Bool("grammar", true),
		Unk:             s.Bool("unk", true),
		Words:           s.Bool("words", true),
		MaxAlternatives: s.Int("max-alternatives", 0, 0, 20),
		Interim:         s.Bool("interim-results", true),
		VoskEndpoint:    s.OneOf("endpointing", "vosk", "host", "vosk") == "vosk",
		IdleTimeout:     s.Duration("idle-timeout", 0),
		Backoff:         s.Backoff(),
	}
	if v := s.String("authorization", ""); v != "" {
		c.Header.Set("Authorization", v)
	}
	c.SampleRates = s.SampleRates([]string{strconv.Itoa(s.Int("sample-rate", 8000, 8000, 48000))})
	for _, ep := range c.Endpoints {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			s.Invalid("endpoints", "each endpoint must be a ws:// or wss:// URL, got "+strconv.Quote(strings.TrimSpace(ep)))
		}
	}
	return c, s.Err(strict)
}

func forRequest(base, params map[string]string) (Config, error) {
	return parse(vendorkit.Overlay("vosk", base, params, requestKeys), false)
}
