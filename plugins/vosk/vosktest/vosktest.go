// Package vosktest is an in-process stand-in for vosk-server's WebSocket protocol
// (websocket/asr_server.py) on a loopback port, message for message: an optional {"config": {...}}
// text message (sample_rate, phrase_list, words, max_alternatives), then binary PCM frames each
// answered by {"partial": "..."} or, at Kaldi's endpoint, a result ({"text", "result": [{"conf",
// "end", "start", "word"}]} or {"alternatives": [...]}); the text message {"eof" : 1} is answered by
// the final result, then the server closes. With a phrase_list, words outside it come out as
// "[unk]" (when allowed) as a grammar-restricted Kaldi graph would. It can also play the proxy
// or deployment in front of vosk-server: authentication, rate limits, a session cap, an idle
// timeout and a dropped connection. Its "recognition" is a rule tests control: whatever speech it
// hears is the configured Script.
package vosktest

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mrcpd/mrcpd/plugins/internal/vendorkit"
)

// Script is what the stand-in answers when it hears speech.
type Script = vendorkit.Script

// Failure is a failure the stand-in can be told to produce on its next connection.
type Failure int

const (
	FailNone  Failure = iota
	FailQuota         // HTTP 429 at the handshake (a rate-limiting proxy)
	FailDrop          // the TCP connection is cut when speech begins, mid-utterance
)

// Config is a connection's {"config": ...} as vosk-server reads it.
type Config struct {
	SampleRate      float64  `json:"sample_rate"`
	PhraseList      []string `json:"phrase_list"`
	Words           *bool    `json:"words"`
	MaxAlternatives int      `json:"max_alternatives"`
}

// Server is the stand-in.
type Server struct {
	http *httptest.Server

	mu      sync.Mutex
	auth    string
	script  Script
	fails   []Failure
	idle    time.Duration
	limit   time.Duration
	configs []Config
	open    vendorkit.Conns
}

// Start runs a stand-in on 127.0.0.1 and returns it with its endpoint URL (ws://127.0.0.1:port),
// stopped when the test ends. This is the helper end-to-end tests point the plugin's endpoint at.
func Start(t testing.TB, script Script) (*Server, string) {
	t.Helper()
	s := New(script)
	t.Cleanup(s.Close)
	return s, s.URL()
}

// New starts a stand-in on a loopback port.
func New(script Script) *Server {
	s := &Server{script: script}
	s.http = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the WebSocket endpoint.
func (s *Server) URL() string { return "ws" + strings.TrimPrefix(s.http.URL, "http") }

// Close stops the server and waits for its connections.
func (s *Server) Close() {
	s.http.CloseClientConnections()
	s.http.Close()
	s.open.Close()
}

// SetScript changes what later connections recognise.
func (s *Server) SetScript(sc Script) { s.mu.Lock(); s.script = sc; s.mu.Unlock() }

// RequireAuth makes the stand-in answer 401 unless the handshake carries this Authorization value.
func (s *Server) RequireAuth(v string) { s.mu.Lock(); s.auth = v; s.mu.Unlock() }

// SetIdleTimeout closes connections without data for d with 1011 "keepalive ping timeout"; 0: never.
func (s *Server) SetIdleTimeout(d time.Duration) { s.mu.Lock(); s.idle = d; s.mu.Unlock() }

// SetStreamLimit closes connections after d of audio with 1001 "session limit reached"; 0: never.
func (s *Server) SetStreamLimit(d time.Duration) { s.mu.Lock(); s.limit = d; s.mu.Unlock() }

// Fail queues failures for the next connections, one each.
func (s *Server) Fail(f ...Failure) { s.mu.Lock(); s.fails = append(s.fails, f...); s.mu.Unlock() }

// Configs are the config messages received so far.
func (s *Server) Configs() []Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Config(nil), s.configs...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	auth, script, idle, limit := s.auth, s.script, s.idle, s.limit
	fail := FailNone
	if len(s.fails) > 0 {
		fail, s.fails = s.fails[0], s.fails[1:]
	}
	s.mu.Unlock()
	if auth != "" && r.Header.Get("Authorization") != auth {
		http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
		return
	}
	if fail == FailQuota {
		http.Error(w, "429 Too Many Requests", http.StatusTooManyRequests)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	c.SetReadLimit(1 << 20) // python websockets (vosk-server) takes frames up to 1 MiB, above coder/websocket's 32 KiB default
	defer c.CloseNow()
	if !s.open.Add() {
		return
	}
	defer s.open.Done()
	rec := &recognizer{srv: s, c: c, script: script, fail: fail, limit: limit, cfg: Config{SampleRate: 8000}}
	rec.run(r.Context(), idle)
}

type recognizer struct {
	srv     *Server
	c       *websocket.Conn
	script  Script
	fail    Failure
	limit   time.Duration
	cfg     Config
	started bool // the Kaldi recognizer exists: config is no longer read
	l       vendorkit.Listener
	samples int
	done    bool // the final result was given
}

type frame struct {
	typ websocket.MessageType
	b   []byte
	err error
}

// run is asr_server.py's recognize loop.
func (r *recognizer) run(ctx context.Context, idle time.Duration) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := make(chan frame)
	go func() {
		for {
			typ, b, err := r.c.Read(ctx)
			select {
			case in <- frame{typ, b, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var timeout <-chan time.Time
	var timer *time.Timer
	if idle > 0 {
		timer = time.NewTimer(idle)
		defer timer.Stop()
		timeout = timer.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-timeout:
			r.c.Close(websocket.StatusInternalError, "keepalive ping timeout")
			return
		case f := <-in:
			if f.err != nil {
				return
			}
			if timer != nil {
				timer.Reset(idle)
			}
			if f.typ == websocket.MessageText && strings.Contains(string(f.b), "config") && !r.started {
				var m struct {
					Config Config `json:"config"`
				}
				if json.Unmarshal(f.b, &m) != nil {
					r.c.Close(websocket.StatusInternalError, "bad config")
					return
				}
				if m.Config.SampleRate == 0 {
					m.Config.SampleRate = r.cfg.SampleRate
				}
				r.cfg = m.Config
				r.srv.mu.Lock()
				r.srv.configs = append(r.srv.configs, m.Config)
				r.srv.mu.Unlock()
				continue
			}
			if !r.started {
				r.started = true
				r.l = vendorkit.Listener{Rate: int(r.cfg.SampleRate)}
			}
			if f.typ == websocket.MessageText {
				if string(f.b) != `{"eof" : 1}` {
					// asr_server.py would hand the text to AcceptWaveform and fail.
					r.c.Close(websocket.StatusInternalError, "unexpected text message")
					return
				}
				r.send(ctx, r.result(true))
				r.c.Close(websocket.StatusNormalClosure, "")
				return
			}
			if !r.audio(ctx, f.b) {
				return
			}
		}
	}
}

func (r *recognizer) send(ctx context.Context, v any) {
	b, _ := json.Marshal(v)
	r.c.Write(ctx, websocket.MessageText, b)
}

// audio answers one binary frame with a partial or, at the endpoint, a result.
func (r *recognizer) audio(ctx context.Context, b []byte) bool {
	pcm := vendorkit.DecodePCM(b)
	r.samples += len(pcm)
	if r.limit > 0 && time.Duration(r.samples)*time.Second/time.Duration(r.cfg.SampleRate) > r.limit {
		r.c.Close(websocket.StatusGoingAway, "session limit reached")
		return false
	}
	endpoint := false
	for _, ev := range r.l.Feed(pcm) {
		switch ev {
		case vendorkit.SpeechBegin:
			if r.fail == FailDrop {
				r.c.CloseNow()
				return false
			}
		case vendorkit.SpeechEnd:
			endpoint = true
		}
	}
	if endpoint && !r.done {
		r.send(ctx, r.result(false))
		// Kaldi starts a new utterance after an endpoint: speech after it is heard afresh.
		r.l = vendorkit.Listener{Rate: r.l.Rate}
		return true
	}
	p := ""
	if !r.done {
		p = strings.Join(r.restrict(strings.Fields(r.l.Partial(r.script.Transcript))), " ")
	}
	r.send(ctx, map[string]string{"partial": p})
	return true
}

// restrict maps words outside the phrase list to [unk] (or drops them), as a grammar graph would.
func (r *recognizer) restrict(words []string) []string {
	if len(r.cfg.PhraseList) == 0 {
		return words
	}
	vocab := map[string]bool{}
	for _, p := range r.cfg.PhraseList {
		for _, w := range strings.Fields(p) {
			vocab[w] = true
		}
	}
	var out []string
	for _, w := range words {
		switch {
		case vocab[strings.ToLower(w)]:
			out = append(out, strings.ToLower(w))
		case vocab["[unk]"]:
			out = append(out, "[unk]")
		}
	}
	return out
}

// result is Result() or FinalResult(): the transcript for each utterance heard, empty otherwise.
func (r *recognizer) result(final bool) any {
	text := ""
	if r.l.Heard() && !r.done {
		text = r.script.Transcript
	}
	if final {
		r.done = true
	}
	texts := append([]string{text}, r.script.Alternatives...)
	if text == "" {
		texts = texts[:1]
	}
	type word struct {
		Conf  float64 `json:"conf,omitempty"`
		End   float64 `json:"end"`
		Start float64 `json:"start"`
		Word  string  `json:"word"`
	}
	wordsOf := func(t string, conf bool) []word {
		words := r.restrict(strings.Fields(t))
		var out []word
		for _, tw := range r.l.Words(strings.Join(words, " ")) {
			w := word{Word: tw.Word, Start: math.Round(tw.Start.Seconds()*1e6) / 1e6, End: math.Round(tw.End.Seconds()*1e6) / 1e6}
			if conf {
				w.Conf = r.script.Conf()
			}
			out = append(out, w)
		}
		return out
	}
	showWords := r.cfg.Words == nil || *r.cfg.Words
	if r.cfg.MaxAlternatives > 0 {
		type alt struct {
			Confidence float64 `json:"confidence"`
			Result     []word  `json:"result,omitempty"`
			Text       string  `json:"text"`
		}
		var alts []alt
		for i, t := range texts[:min(len(texts), r.cfg.MaxAlternatives)] {
			a := alt{Confidence: 300*r.script.Conf() - 2*float64(i), Text: strings.Join(r.restrict(strings.Fields(t)), " ")}
			if showWords {
				a.Result = wordsOf(t, false)
			}
			alts = append(alts, a)
		}
		return map[string]any{"alternatives": alts}
	}
	out := map[string]any{"text": strings.Join(r.restrict(strings.Fields(text)), " ")}
	if showWords && text != "" {
		out["result"] = wordsOf(text, true)
	}
	return out
}

// PluginSettings are the vosk plugin's settings (engines.plugins[].settings) that point it at a
// stand-in's URL.
func PluginSettings(url string) map[string]string {
	return map[string]string{"endpoint": url}
}
