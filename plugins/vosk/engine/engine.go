package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/coder/websocket"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/grammar"
	"github.com/mrcpd/mrcpd/plugins/internal/vendorkit"
)

// Engine is the Vosk recognizer: one WebSocket to vosk-server per recognition stream.
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

// Info declares Vosk's capabilities. Vosk reports no speech events of its own, so the host's
// endpointer drives START-OF-INPUT and Finalize.
func (e *Engine) Info(context.Context) (asr.RecognizerInfo, error) {
	return asr.RecognizerInfo{
		Name:            "vosk",
		Streaming:       true,
		InterimResults:  e.cfg.Interim,
		Finalize:        true,
		GrammarTypes:    vendorkit.GrammarTypes(),
		Builtins:        vendorkit.Builtins(),
		MaxAlternatives: max(e.cfg.MaxAlternatives, 1),
		SampleRates:     e.cfg.SampleRates,
		IdleTimeout:     e.cfg.IdleTimeout,
	}, nil
}

// voskConfig is vosk-server's first message. phrase_list turns the model's graph into a grammar
// of those phrases; words asks for per-word times and confidences.
type voskConfig struct {
	Config struct {
		SampleRate      int      `json:"sample_rate"`
		PhraseList      []string `json:"phrase_list,omitempty"`
		Words           bool     `json:"words"`
		MaxAlternatives int      `json:"max_alternatives"`
	} `json:"config"`
}

// Recognize connects (with failover) and sends the config.
func (e *Engine) Recognize(ctx context.Context, req asr.RecognizeRequest) (asr.RecognitionStream, error) {
	cfg, gs, err := vendorkit.Prepare(&req, e.Settings, forRequest, e.cfg.SampleRates)
	if err != nil {
		return nil, err
	}
	var vc voskConfig
	vc.Config.SampleRate = req.SampleRate
	vc.Config.Words = cfg.Words
	if cfg.MaxAlternatives > 0 && req.NBest > 1 {
		vc.Config.MaxAlternatives = min(req.NBest, cfg.MaxAlternatives)
	}
	if cfg.Grammar {
		if ph := append(gs.Phrases(0), req.Hints...); len(ph) > 0 {
			for _, p := range ph {
				vc.Config.PhraseList = append(vc.Config.PhraseList, voskPhrase(p))
			}
			if cfg.Unk {
				vc.Config.PhraseList = append(vc.Config.PhraseList, "[unk]")
			}
		}
	}
	first, _ := json.Marshal(vc)
	conn, err := vendorkit.Dial(ctx, e.Endpoints, func(ctx context.Context, ep string) (*websocket.Conn, error) {
		c, resp, err := websocket.Dial(ctx, ep, &websocket.DialOptions{HTTPClient: e.client, HTTPHeader: e.cfg.Header})
		if err != nil {
			err = handshakeError(resp, err)
			e.Log.Warn("vosk: endpoint failed", "endpoint", ep, "err", err)
			return nil, err
		}
		if err := c.Write(ctx, websocket.MessageText, first); err != nil {
			c.CloseNow()
			return nil, asr.Errorf(asr.ErrUnavailable, true, "vosk: %s: config: %v", ep, err)
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	return newStream(ctx, conn, cfg, req, gs, vc), nil
}

// voskPhrase lower-cases a phrase as Vosk's word symbols are.
func voskPhrase(p string) string {
	return strings.Join(grammar.Tokens(p), " ")
}

// handshakeError classifies a failed upgrade. vosk-server itself has no authentication or quota;
// the statuses come from a proxy in front of it.
func handshakeError(resp *http.Response, err error) error {
	if resp == nil {
		return vendorkit.DialFailed("vosk", err)
	}
	msg := fmt.Sprintf("vosk: HTTP %d", resp.StatusCode)
	switch c := resp.StatusCode; {
	case c == http.StatusUnauthorized || c == http.StatusForbidden:
		return asr.Errorf(asr.ErrAuth, false, "%s", msg)
	case c == http.StatusTooManyRequests:
		return asr.Errorf(asr.ErrQuota, true, "%s", msg)
	case c >= 500:
		return asr.Errorf(asr.ErrUnavailable, true, "%s", msg)
	}
	return asr.Errorf(asr.ErrInternal, false, "%s", msg)
}
