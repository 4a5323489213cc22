// Package server is the MRCPv2 server side: it implements the SIP offer/answer of RFC 6787 §4.2,
// owns the control connections (§4.2, §5) and runs the speechrecog (§9), speechsynth (§8) and
// recorder (§10) resources of every session.
//
// Each session (one SIP dialog) is one goroutine that owns all of its state; control connections
// have a reader and a writer goroutine each, and reach sessions only through channels.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/mrcp/capture"
	"github.com/mrcpd/mrcpd/mrcp/records"
)

// Hangup ends a SIP dialog from the server side; *sip.Server implements it.
type Hangup interface {
	Bye(ctx context.Context, callID string) error
}

// Backends are the engines sessions use. DTMF grammars never reach them: the session matches
// keys itself because DTMF-Interdigit-Timeout and DTMF-Term-Timeout depend on the match state.
type Backends struct {
	// Recognizer serves voice grammars; nil answers them with 407 / Completion-Cause 006.
	Recognizer asr.Recognizer
	// Synthesizer serves SPEAK; nil fails SPEAK with Completion-Cause 004 error.
	Synthesizer asr.Synthesizer
	// Named, when set, lets a call (SIP Request-URI user part) or a request (Vendor-Specific-
	// Parameters engine=<name>) choose another engine by name.
	Named Engines
}

// Config is everything a Server needs; zero values get the documented defaults.
type Config struct {
	// Addr is the TCP control listen address (TCP/MRCPv2), TLSAddr the TLS one (TCP/TLS/MRCPv2,
	// RFC 6787 §4.4) used when TLS is set.
	Addr    string
	TLSAddr string
	TLS     *tls.Config
	// AdvertiseIP is put in the SDP answer's c= line; RTP binds there too.
	AdvertiseIP    string
	MaxMessageSize int
	// Control connection limits (docs/security.md): connections in total and from one host,
	// the time a message may take to arrive once begun, how long a connection no channel is
	// bound to stays open, and how long one write to a client that does not read may wait.
	MaxConnections int
	// What one channel may store (SET-PARAMS values, DEFINE-GRAMMAR bodies), bytes.
	MaxChannelParams      int
	MaxChannelGrammars    int
	MaxConnectionsPerHost int
	MessageTimeout        time.Duration
	IdleTimeout           time.Duration
	WriteTimeout          time.Duration
	// ConnectTimeout ends a session whose client never sends on a control connection.
	ConnectTimeout time.Duration
	// MediaTimeout ends a session that receives no RTP for this long while it consumes input.
	MediaTimeout time.Duration
	// FinalizeTimeout bounds the wait for an engine's Final once it was asked for it, so an engine
	// that never answers cannot hold the channel; it must exceed the slowest engine's finalize.
	FinalizeTimeout time.Duration
	// FreeText makes a transcript that no grammar of the request accepts a success whose instance
	// is the transcript, for every RECOGNIZE, instead of 001 no-match; a request's
	// Vendor-Specific-Parameters free-text=false or true overrides it.
	FreeText    bool
	MaxSessions int
	// MaxSessionsPerSource caps the sessions of one SIP source host (default MaxSessions), so
	// that one client cannot take every place.
	MaxSessionsPerSource int
	// SRTP says whether audio may, must or must not be RTP/SAVP with SDES keys (rtp.srtp).
	SRTP SRTPPolicy
	// MaxOfferMedia caps the m-lines of an offer (default 8; mod_unimrcp sends two per resource).
	MaxOfferMedia int
	RecorderDir   string
	// Recordings holds what RECORD captures, with its disk quota; nil opens RecorderDir without
	// one at the first RECORD.
	Recordings *capture.Store
	// Waveforms holds the utterances of Save-Waveform (RFC 6787 §9.4.22), served at WaveformURL
	// (a base ending in "/"); nil answers Save-Waveform with an empty Waveform-URI.
	Waveforms   *capture.Store
	WaveformURL string
	// Records receives a detail record of every RECOGNIZE and SPEAK; nil writes none.
	Records *records.Writer
	// InputRate is the PCM rate of received audio (recognizers, recorder); OutputRate that of
	// synthesized audio handed to the sender.
	InputRate  int
	OutputRate int
	// NewEndpointer builds the voice-activity detector that runs on a recognition's or recording's
	// input (media.NewDetector in production); nil leaves speech detection to the engine.
	NewEndpointer func(rate int, sensitivity float64) media.Detector
	Media         media.Streams
	Backends      Backends
	Clock         clock.Clock
	Logger        *slog.Logger
	Metrics       *Metrics
}

func (c *Config) defaults() {
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = 1 << 20
	}
	if c.MaxChannelParams == 0 {
		c.MaxChannelParams = 64 << 10
	}
	if c.MaxChannelGrammars == 0 {
		c.MaxChannelGrammars = 1 << 20
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = 2000
	}
	if c.MaxConnectionsPerHost == 0 {
		c.MaxConnectionsPerHost = 1000
	}
	if c.MessageTimeout == 0 {
		c.MessageTimeout = 10 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 30 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.MediaTimeout == 0 {
		c.MediaTimeout = 60 * time.Second
	}
	if c.MaxSessions == 0 {
		c.MaxSessions = 1000
	}
	if c.MaxSessionsPerSource == 0 {
		c.MaxSessionsPerSource = c.MaxSessions
	}
	if c.MaxOfferMedia == 0 {
		c.MaxOfferMedia = 8
	}
	if c.FinalizeTimeout == 0 {
		c.FinalizeTimeout = 10 * time.Second
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.AdvertiseIP == "" {
		c.AdvertiseIP = "127.0.0.1"
	}
	if c.InputRate == 0 {
		c.InputRate = 8000
	}
	if c.OutputRate == 0 {
		c.OutputRate = 8000
	}
	if c.RecorderDir == "" {
		c.RecorderDir = "var/recordings"
	}
}

// Server is the MRCPv2 server. It implements sip.Handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	tcp     net.Listener
	tls     net.Listener
	baseCtx context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu       sync.Mutex
	hangup   Hangup
	sessions map[string]*session // by Call-ID
	idle     chan struct{}       // closed when the last session ends (Drain waits on it); nil until asked
	channels map[string]*session // by channel identifier
	conns    map[*conn]struct{}
	admitted admission
	perHost  map[string]int // open connections by client host
	closed   bool

	refusedLog atomic.Int64 // unix second of the last "connection refused" warning

	infoMu sync.Mutex
	infos  map[string]asr.RecognizerInfo // recognizer declarations by engine name ("" default)

	maxSessions atomic.Int64 // cfg.MaxSessions, changed live by SetMaxSessions

	recOnce  sync.Once
	recStore *capture.Store
	recErr   error

	builtins builtinGrammars
}

// New binds the control listeners (so that Addr is known before Run) but starts no goroutine.
func New(cfg Config) (*Server, error) {
	cfg.defaults()
	if cfg.Media == nil {
		return nil, errors.New("server: Config.Media is required")
	}
	s := &Server{cfg: cfg, log: cfg.Logger, sessions: map[string]*session{},
		channels: map[string]*session{}, conns: map[*conn]struct{}{}, perHost: map[string]int{}}
	s.maxSessions.Store(int64(cfg.MaxSessions))
	var err error
	if s.tcp, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("server: control listener: %w", err)
	}
	if cfg.TLS != nil && cfg.TLSAddr != "" {
		if s.tls, err = tls.Listen("tcp", cfg.TLSAddr, cfg.TLS); err != nil {
			s.tcp.Close()
			return nil, fmt.Errorf("server: TLS control listener: %w", err)
		}
	}
	s.baseCtx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// SetMaxSessions changes the session limit for the INVITEs that follow (a configuration reload);
// sessions above a lowered limit carry on.
func (s *Server) SetMaxSessions(n int) {
	if n <= 0 {
		n = 1000
	}
	s.maxSessions.Store(int64(n))
}

// EnginesChanged forgets the recognizer declarations fetched so far: after a reload a name may
// stand for another process with other settings.
func (s *Server) EnginesChanged() {
	s.infoMu.Lock()
	s.infos = nil
	s.infoMu.Unlock()
}

// SetHangup gives the server the SIP side it uses to end dialogs (sip.Server is built after the
// Server because it needs the Server as its Handler).
func (s *Server) SetHangup(h Hangup) {
	s.mu.Lock()
	s.hangup = h
	s.mu.Unlock()
}

// Addr is the bound TCP control address.
func (s *Server) Addr() net.Addr { return s.tcp.Addr() }

// TLSAddr is the bound TLS control address, or nil.
func (s *Server) TLSAddr() net.Addr {
	if s.tls == nil {
		return nil
	}
	return s.tls.Addr()
}

// Sessions is the number of live sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Run accepts control connections until ctx is done, then ends every session and connection and
// returns once all of their goroutines are gone.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	s.wg.Add(1)
	go func() { defer s.wg.Done(); errc <- s.accept(s.tcp, false) }()
	if s.tls != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); errc <- s.accept(s.tls, true) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.shutdown()
	return err
}

// Drain waits until no session is live or ctx is done (SIGTERM: the SIP side refuses new calls,
// running sessions finish).
func (s *Server) Drain(ctx context.Context) error {
	s.mu.Lock()
	if len(s.sessions) == 0 {
		s.mu.Unlock()
		return nil
	}
	if s.idle == nil {
		s.idle = make(chan struct{})
	}
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// EndSessions ends every live session with a BYE (the end of a drain that ran out of time), so
// that clients learn of it rather than finding a dead control connection.
func (s *Server) EndSessions() {
	s.mu.Lock()
	live := make([]*session, 0, len(s.sessions))
	for _, se := range s.sessions {
		live = append(live, se)
	}
	s.mu.Unlock()
	for _, se := range live {
		se.end(ErrShutdown, true)
	}
}

func (s *Server) shutdown() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.tcp.Close()
	if s.tls != nil {
		s.tls.Close()
	}
	s.cancel()
	s.wg.Wait()
}

func (s *Server) accept(l net.Listener, isTLS bool) error {
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.baseCtx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("server: accept: %w", err)
		}
		c := newConn(s, nc, isTLS)
		if reason := s.admitConn(c); reason != "" {
			s.refuse(nc, reason)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c.run(s.baseCtx)
			s.connGone(c)
		}()
	}
}

// connGone ends the sessions whose channels were bound to c (RFC 6787 §4.2: the control
// connection carries the session; without it no request can reach the resources).
func (s *Server) connGone(c *conn) {
	s.mu.Lock()
	s.forgetConn(c)
	var ended []*session
	for _, se := range s.sessions {
		if se.boundTo(c) {
			ended = append(ended, se)
		}
	}
	s.mu.Unlock()
	for _, se := range ended {
		se.post(se.connLost)
	}
}

// liveConnFrom reports whether a control connection from host is open: such a client can reuse it
// (a=connection:existing) and is not waiting to connect.
func (s *Server) liveConnFrom(host string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.remoteHost == host {
			return true
		}
	}
	return false
}

// unboundConnBetween reports whether a connection from host, accepted in [from, to], is open and
// not bound to any channel yet.
func (s *Server) unboundConnBetween(host string, from, to time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.remoteHost == host && !c.bound.Load() && !c.accepted.Before(from) && !c.accepted.After(to) {
			return true
		}
	}
	return false
}

func (s *Server) lookupChannel(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.channels[id]
}

func (s *Server) bye(callID string) {
	s.mu.Lock()
	h := s.hangup
	s.mu.Unlock()
	if h == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.baseCtx), 5*time.Second)
	defer cancel()
	if err := h.Bye(ctx, callID); err != nil {
		s.log.Warn("BYE failed", "call-id", callID, "err", err)
	}
}

// removeSession is called by a session's goroutine as it exits.
func (s *Server) removeSession(se *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[se.callID] == se {
		delete(s.sessions, se.callID)
		s.admitted.leave(se.remoteHost)
		if len(s.sessions) == 0 && s.idle != nil {
			close(s.idle)
			s.idle = nil
		}
	}
	for id, x := range s.channels {
		if x == se {
			delete(s.channels, id)
		}
	}
}
