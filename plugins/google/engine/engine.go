package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	speech "cloud.google.com/go/speech/apiv1"
	"cloud.google.com/go/speech/apiv1/speechpb"
	gax "github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/plugins/internal/vendorkit"
)

// Engine is the Google recognizer. One speech.Client (one gRPC connection) per endpoint is made
// at start and shared by all streams.
type Engine struct {
	cfg Config
	vendorkit.Base
	clients map[string]*speech.Client

	mu     sync.Mutex
	closed bool
}

// New builds the engine from validated settings. The gRPC connections are lazy: nothing is dialled
// before the first stream.
func New(ctx context.Context, settings map[string]string, log *slog.Logger) (*Engine, error) {
	cfg, err := ParseConfig(settings)
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, Base: vendorkit.NewBase(settings, log, cfg.Endpoints, cfg.Backoff),
		clients: map[string]*speech.Client{}}
	for _, ep := range cfg.Endpoints {
		opts := []option.ClientOption{option.WithEndpoint(ep), option.WithTelemetryDisabled()}
		switch {
		case cfg.Insecure:
			opts = append(opts, option.WithoutAuthentication(),
				option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
		case cfg.Credentials != "":
			opts = append(opts, option.WithAuthCredentialsFile(option.ServiceAccount, cfg.Credentials))
		}
		c, err := speech.NewClient(ctx, opts...)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("google: endpoint %s: %w", ep, err)
		}
		e.clients[ep] = c
	}
	return e, nil
}

// Close releases the gRPC connections.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	var errs []error
	for _, c := range e.clients {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// Info declares Google's capabilities as configured.
func (e *Engine) Info(context.Context) (asr.RecognizerInfo, error) {
	return asr.RecognizerInfo{
		Name:              "google",
		Streaming:         true,
		InterimResults:    e.cfg.Interim,
		SpeechEvents:      e.cfg.SingleUtterance,
		Finalize:          true,
		GrammarTypes:      vendorkit.GrammarTypes(),
		Builtins:          vendorkit.Builtins(),
		MaxAlternatives:   e.cfg.MaxAlternatives,
		SampleRates:       e.cfg.SampleRates,
		MaxStreamDuration: e.cfg.StreamLimit,
		IdleTimeout:       e.cfg.IdleTimeout,
	}, nil
}

// Recognize opens a StreamingRecognize call, failing over between endpoints, and sends the
// streaming config as its first message.
func (e *Engine) Recognize(ctx context.Context, req asr.RecognizeRequest) (asr.RecognitionStream, error) {
	cfg, gs, err := vendorkit.Prepare(&req, e.Settings, forRequest, e.cfg.SampleRates)
	if err != nil {
		return nil, err
	}
	sc := streamingConfig(cfg, req, gs)
	sctx, cancel := context.WithCancel(ctx)
	open := func() (call, error) { return e.open(sctx, sc) }
	c, err := open()
	if err != nil {
		cancel()
		return nil, err
	}
	return newStream(sctx, cancel, c, open, e.Endpoints, cfg, req, gs, sc, e.Log), nil
}

// call is a StreamingRecognize call and the endpoint it went to.
type call struct {
	cl speechpb.Speech_StreamingRecognizeClient
	ep string
}

// open starts a call with the streaming config, failing over between endpoints.
func (e *Engine) open(ctx context.Context, sc *speechpb.StreamingRecognitionConfig) (call, error) {
	return vendorkit.Dial(ctx, e.Endpoints, func(ctx context.Context, ep string) (call, error) {
		// Our own failover replaces the client library's retry of UNAVAILABLE on one endpoint.
		cl, err := e.clients[ep].StreamingRecognize(ctx, gax.WithRetry(func() gax.Retryer { return nil }))
		if err != nil {
			e.Log.Warn("google: endpoint failed", "endpoint", ep, "err", err)
			return call{}, mapError(err)
		}
		if err := cl.Send(&speechpb.StreamingRecognizeRequest{
			StreamingRequest: &speechpb.StreamingRecognizeRequest_StreamingConfig{StreamingConfig: sc}}); err != nil {
			_, rerr := cl.Recv()
			return call{}, mapError(errors.Join(err, rerr))
		}
		return call{cl: cl, ep: ep}, nil
	})
}

// streamingConfig is the first message of the call: RecognitionConfig from settings, the
// request and its grammars' phrases as a speech context.
func streamingConfig(cfg Config, req asr.RecognizeRequest, gs *vendorkit.Grammars) *speechpb.StreamingRecognitionConfig {
	lang := cfg.Language
	if req.Language != "" {
		lang = req.Language
	}
	if v := vendorkit.Overlay("google", nil, req.Params, []string{"language"})["language"]; v != "" {
		lang = v // a Vendor-Specific-Parameter wins over Speech-Language
	}
	rc := &speechpb.RecognitionConfig{
		Encoding:                   speechpb.RecognitionConfig_LINEAR16,
		SampleRateHertz:            int32(req.SampleRate),
		AudioChannelCount:          1,
		LanguageCode:               lang,
		MaxAlternatives:            int32(min(max(req.NBest, 1), cfg.MaxAlternatives)),
		EnableAutomaticPunctuation: cfg.Punctuation,
		EnableWordTimeOffsets:      cfg.WordTimes,
		EnableWordConfidence:       cfg.WordTimes,
		Model:                      cfg.Model,
		UseEnhanced:                cfg.UseEnhanced,
	}
	phrases := append(gs.Phrases(cfg.MaxPhrases), req.Hints...)
	phrases = append(phrases, cfg.Phrases...)
	if len(phrases) > 0 {
		rc.SpeechContexts = []*speechpb.SpeechContext{{Phrases: phrases, Boost: float32(cfg.Boost)}}
	}
	return &speechpb.StreamingRecognitionConfig{
		Config:                    rc,
		SingleUtterance:           cfg.SingleUtterance,
		InterimResults:            cfg.Interim,
		EnableVoiceActivityEvents: cfg.VoiceEvents,
	}
}
