// Package deepgramtest is an in-process stand-in for Deepgram's streaming API (/v1/listen over
// WebSocket) on a loopback port, message for message as Deepgram documents it: Token auth and HTTP
// statuses with a dg-error header at the handshake; binary linear16 audio; KeepAlive, Finalize and
// CloseStream; Results with is_final, speech_final and from_finalize; SpeechStarted (vad_events);
// UtteranceEnd (utterance_end_ms); Metadata; close 1011 NET-0001 after 10 s without data. Its
// "recognition" is a rule tests control: whatever speech it hears is the configured Script.
package deepgramtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mrcpd/mrcpd/plugins/internal/vendorkit"
)

// Script is what the stand-in answers when it hears speech.
type Script = vendorkit.Script

// Failure is a vendor failure the stand-in can be told to produce on its next connection.
type Failure int

const (
	FailNone    Failure = iota
	FailQuota           // HTTP 429 at the handshake (too many requests / concurrency)
	FailCredits         // HTTP 402 at the handshake (insufficient credits)
	FailDrop            // the TCP connection is cut when speech begins, mid-utterance
	FailData            // close 1008 DATA-0000 when audio arrives
)

// APIKey is the key the stand-in accepts unless told otherwise.
const APIKey = "test-deepgram-key"

// Server is the stand-in.
type Server struct {
	http *httptest.Server

	mu      sync.Mutex
	key     string
	script  Script
	fails   []Failure
	idle    time.Duration
	queries []url.Values
	conns   int
	kas     int
	open    vendorkit.Conns
}

// Start runs a stand-in on 127.0.0.1 and returns it with its endpoint URL
// (ws://127.0.0.1:port/v1/listen); it accepts the key APIKey and stops when the test ends. This is
// the helper end-to-end tests point the plugin's endpoint setting at.
func Start(t testing.TB, script Script) (*Server, string) {
	t.Helper()
	s := New(script)
	t.Cleanup(s.Close)
	return s, s.URL()
}

// New starts a stand-in on a loopback port.
func New(script Script) *Server {
	s := &Server{key: APIKey, script: script, idle: 10 * time.Second}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/listen", s.listen)
	s.http = httptest.NewServer(mux)
	return s
}

// URL is the streaming endpoint.
func (s *Server) URL() string { return "ws" + strings.TrimPrefix(s.http.URL, "http") + "/v1/listen" }

// Close stops the server and waits for its connections.
func (s *Server) Close() {
	s.http.CloseClientConnections()
	s.http.Close()
	s.open.Close()
}

// SetScript changes what later connections recognise.
func (s *Server) SetScript(sc Script) { s.mu.Lock(); s.script = sc; s.mu.Unlock() }

// SetKey changes the API key accepted.
func (s *Server) SetKey(k string) { s.mu.Lock(); s.key = k; s.mu.Unlock() }

// SetIdleTimeout changes the 10 s after which a connection without data is closed with NET-0001.
func (s *Server) SetIdleTimeout(d time.Duration) { s.mu.Lock(); s.idle = d; s.mu.Unlock() }

// Fail queues failures for the next connections, one each.
func (s *Server) Fail(f ...Failure) { s.mu.Lock(); s.fails = append(s.fails, f...); s.mu.Unlock() }

// Queries are the query parameters of the connections accepted so far.
func (s *Server) Queries() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.queries...)
}

// KeepAlives is the number of KeepAlive messages received.
func (s *Server) KeepAlives() int { s.mu.Lock(); defer s.mu.Unlock(); return s.kas }

// Connections is the number of WebSocket connections accepted.
func (s *Server) Connections() int { s.mu.Lock(); defer s.mu.Unlock(); return s.conns }

func reject(w http.ResponseWriter, code int, errCode, msg string) {
	w.Header().Set("dg-error", msg)
	w.Header().Set("dg-request-id", "00000000-0000-0000-0000-000000000000")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"err_code": errCode, "err_msg": msg, "request_id": "00000000-0000-0000-0000-000000000000"})
}

func (s *Server) listen(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	key, script, idle := s.key, s.script, s.idle
	fail := FailNone
	if len(s.fails) > 0 {
		fail, s.fails = s.fails[0], s.fails[1:]
	}
	s.mu.Unlock()
	if r.Header.Get("Authorization") != "Token "+key {
		reject(w, http.StatusUnauthorized, "INVALID_AUTH", "Invalid credentials.")
		return
	}
	switch fail {
	case FailQuota:
		reject(w, http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "Too many requests. Please try again later.")
		return
	case FailCredits:
		reject(w, http.StatusPaymentRequired, "ASR_PAYMENT_REQUIRED", "Project does not have enough credits for an ASR request.")
		return
	}
	o, err := parseOptions(r)
	if err != nil {
		reject(w, http.StatusBadRequest, "Bad Request", err.Error())
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	c.SetReadLimit(1 << 20) // Deepgram takes frames far above coder/websocket's 32 KiB default
	if !s.open.Add() {
		c.CloseNow()
		return
	}
	defer s.open.Done()
	s.mu.Lock()
	s.queries = append(s.queries, r.URL.Query())
	s.conns++
	s.mu.Unlock()
	sess := &session{srv: s, c: c, o: o, script: script, fail: fail, idle: idle,
		l: vendorkit.Listener{Rate: o.rate, EndSilence: o.endSilence()}}
	sess.run(r.Context())
}

type options struct {
	rate, alternatives, endpointing, utteranceEnd int
	interim, vad                                  bool
	model                                         string
}

// endSilence is the pause that ends speech: endpointing's, else the UtteranceEnd gap, else (both
// off) only Finalize or CloseStream end it.
func (o options) endSilence() time.Duration {
	switch {
	case o.endpointing > 0:
		return time.Duration(o.endpointing) * time.Millisecond
	case o.utteranceEnd > 0:
		return time.Duration(o.utteranceEnd) * time.Millisecond
	}
	return time.Hour
}

// parseOptions checks the query as Deepgram does for raw audio.
func parseOptions(r *http.Request) (options, error) {
	q := r.URL.Query()
	o := options{model: q.Get("model"), alternatives: 1, endpointing: 10}
	if q.Get("encoding") != "linear16" {
		return o, fmt.Errorf("this stand-in takes encoding=linear16, got %q", q.Get("encoding"))
	}
	var err error
	if o.rate, err = strconv.Atoi(q.Get("sample_rate")); err != nil || o.rate < 8000 {
		return o, errors.New("sample_rate is required with encoding")
	}
	if ch := q.Get("channels"); ch != "" && ch != "1" {
		return o, errors.New("this stand-in takes channels=1")
	}
	if l := q.Get("language"); l == "xx" {
		return o, fmt.Errorf("No such model/language/tier combination found: language %q", l)
	}
	o.interim = q.Get("interim_results") == "true"
	o.vad = q.Get("vad_events") == "true"
	if v := q.Get("endpointing"); v == "false" {
		o.endpointing = 0
	} else if v != "" {
		if o.endpointing, err = strconv.Atoi(v); err != nil {
			return o, fmt.Errorf("endpointing must be an integer or false, got %q", v)
		}
	}
	if v := q.Get("utterance_end_ms"); v != "" {
		if o.utteranceEnd, err = strconv.Atoi(v); err != nil {
			return o, fmt.Errorf("utterance_end_ms must be an integer, got %q", v)
		}
		if !o.interim {
			return o, errors.New("utterance_end_ms requires interim_results=true")
		}
	}
	if v := q.Get("alternatives"); v != "" {
		if o.alternatives, err = strconv.Atoi(v); err != nil || o.alternatives < 1 {
			return o, fmt.Errorf("bad alternatives %q", v)
		}
	}
	for _, k := range q["keywords"] {
		if i := strings.LastIndex(k, ":"); i >= 0 {
			if _, err := strconv.ParseFloat(k[i+1:], 64); err != nil {
				return o, fmt.Errorf("bad keyword intensifier in %q", k)
			}
		}
	}
	return o, nil
}

// PluginSettings are the deepgram plugin's settings (engines.plugins[].settings) that point it at
// a stand-in's URL with the key it accepts.
func PluginSettings(url string) map[string]string {
	return map[string]string{"endpoint": url, "api-key": APIKey}
}
