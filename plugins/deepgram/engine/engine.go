package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/coder/websocket"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/plugins/internal/vendorkit"
)

// Engine is the Deepgram recognizer: one WebSocket per recognition stream.
type Engine struct {
	cfg Config
	vendorkit.Base
	client *http.Client
}

// New builds the engine from settings, validated.
func New(settings map[string]string, log *slog.Logger) (*Engine, error) {
	cfg, err := ParseConfig(settings)
	if err != nil {
		return nil, err
	}
	return &Engine{cfg: cfg, Base: vendorkit.NewBase(settings, log, cfg.Endpoints, cfg.Backoff),
		client: &http.Client{}}, nil
}

// Info declares Deepgram's capabilities: it detects speech itself (SpeechStarted, speech_final,
// UtteranceEnd) and closes a stream that gets neither audio nor KeepAlive for 10 s.
func (e *Engine) Info(context.Context) (asr.RecognizerInfo, error) {
	return asr.RecognizerInfo{
		Name:            "deepgram",
		Streaming:       true,
		InterimResults:  e.cfg.Interim,
		SpeechEvents:    e.cfg.VADEvents && (e.cfg.Endpointing > 0 || e.cfg.UtteranceEndMS > 0),
		Finalize:        true,
		GrammarTypes:    vendorkit.GrammarTypes(),
		Builtins:        vendorkit.Builtins(),
		MaxAlternatives: 10,
		SampleRates:     e.cfg.SampleRates,
		IdleTimeout:     e.cfg.IdleTimeout,
	}, nil
}

// Recognize opens the WebSocket, failing over between endpoints on retryable handshake failures.
func (e *Engine) Recognize(ctx context.Context, req asr.RecognizeRequest) (asr.RecognitionStream, error) {
	cfg, gs, err := vendorkit.Prepare(&req, e.Settings, forRequest, e.cfg.SampleRates)
	if err != nil {
		return nil, err
	}
	q := query(cfg, req, gs)
	conn, err := vendorkit.Dial(ctx, e.Endpoints, func(ctx context.Context, ep string) (*websocket.Conn, error) {
		c, resp, err := websocket.Dial(ctx, ep+"?"+q.Encode(), &websocket.DialOptions{
			HTTPClient: e.client,
			HTTPHeader: http.Header{"Authorization": {"Token " + cfg.APIKey}},
		})
		if err != nil {
			err = handshakeError(resp, err)
			e.Log.Warn("deepgram: endpoint failed", "endpoint", ep, "err", err)
			return nil, err
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	return newStream(ctx, conn, cfg, req, gs, q, e.Log), nil
}

// query is the /v1/listen query string: the audio format, features and keywords.
func query(cfg Config, req asr.RecognizeRequest, gs *vendorkit.Grammars) url.Values {
	lang := cfg.Language
	if req.Language != "" {
		lang = req.Language
	}
	if v := vendorkit.Overlay("deepgram", nil, req.Params, []string{"language"})["language"]; v != "" {
		lang = v
	}
	q := url.Values{}
	q.Set("model", cfg.Model)
	q.Set("language", lang)
	q.Set("encoding", "linear16")
	q.Set("sample_rate", strconv.Itoa(req.SampleRate))
	q.Set("channels", "1")
	q.Set("interim_results", strconv.FormatBool(cfg.Interim))
	if cfg.Endpointing > 0 {
		q.Set("endpointing", strconv.Itoa(cfg.Endpointing))
	} else {
		q.Set("endpointing", "false")
	}
	if cfg.UtteranceEndMS > 0 {
		q.Set("utterance_end_ms", strconv.Itoa(cfg.UtteranceEndMS))
	}
	q.Set("vad_events", strconv.FormatBool(cfg.VADEvents))
	if cfg.Punctuate {
		q.Set("punctuate", "true")
	}
	if cfg.SmartFormat {
		q.Set("smart_format", "true")
	}
	if n := max(req.NBest, 1); n > 1 {
		q.Set("alternatives", strconv.Itoa(min(n, 10)))
	}
	words := append(gs.Words(), req.Hints...)
	if len(words) > cfg.MaxKeywords {
		words = words[:cfg.MaxKeywords]
	}
	for _, w := range append(words, cfg.Keywords...) {
		if cfg.KeywordBoost != 0 && !strings.Contains(w, ":") {
			w += ":" + strconv.FormatFloat(cfg.KeywordBoost, 'f', -1, 64)
		}
		q.Add("keywords", w)
	}
	return q
}

// handshakeError classifies a failed upgrade by its HTTP status; Deepgram explains it in the
// dg-error header.
func handshakeError(resp *http.Response, err error) error {
	if resp == nil {
		return vendorkit.DialFailed("deepgram", err)
	}
	msg := resp.Header.Get("dg-error")
	if msg == "" && resp.Body != nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		msg = strings.TrimSpace(string(b))
	}
	return statusError(resp.StatusCode, fmt.Sprintf("deepgram: HTTP %d: %s", resp.StatusCode, msg))
}

// statusError maps an HTTP status (at the handshake, or 4000+status in a close frame).
func statusError(code int, msg string) *asr.Error {
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return asr.Errorf(asr.ErrAuth, false, "%s", msg)
	case code == http.StatusPaymentRequired:
		return asr.Errorf(asr.ErrQuota, false, "%s", msg) // out of credits: another attempt cannot help
	case code == http.StatusTooManyRequests:
		return asr.Errorf(asr.ErrQuota, true, "%s", msg)
	case code == http.StatusBadRequest:
		if strings.Contains(strings.ToLower(msg), "language") {
			return asr.Errorf(asr.ErrLanguage, false, "%s", msg)
		}
		return asr.Errorf(asr.ErrBadParameter, false, "%s", msg)
	case code >= 500:
		return asr.Errorf(asr.ErrUnavailable, true, "%s", msg)
	}
	return asr.Errorf(asr.ErrInternal, false, "%s", msg)
}
