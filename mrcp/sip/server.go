// Package sip is mrcpd's SIP user agent server (RFC 3261) for MRCPv2 session setup (RFC 6787 §4)
// on emiago/sipgo's transport and transaction layers.
//
// Dialogs are ours, not sipgo's: mod_unimrcp's INVITE has no Contact header, which sipgo's
// dialog server cache refuses. A dialog is keyed by Call-ID and checked against both tags; the
// target of our in-dialog requests is the client's Contact when it sent one, else its From URI,
// and they travel back to where the INVITE came from (the same TCP connection, or the UDP
// source address that received/rport name).
//
// Handler.Ended is called exactly once for every initial INVITE whose Offer returned an answer,
// whatever ends the dialog afterwards (BYE either way, CANCEL, ACK timeout, session expiry,
// shutdown). An INVITE whose Offer failed has no dialog and no Ended call.
package sip

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/mrcpd/mrcpd/asr/clock"
)

// Call identifies the dialog an offer belongs to.
type Call struct {
	CallID, FromTag, ToTag string
	Remote                 string // host:port the request came from
	Transport              string // udp, tcp or tls
	// User is the Request-URI's user part (mod_unimrcp's server-username), "" without one.
	User   string
	Logger *slog.Logger
}

// Handler is the session layer behind the SIP agent.
type Handler interface {
	// Offer handles the SDP offer of an INVITE (reinvite=false) or re-INVITE (true) and returns the SDP answer.
	// An error with SIPStatus() int is answered with that code (and its Warning header); any other error is 500.
	// ctx is cancelled when the client CANCELs the pending INVITE.
	Offer(ctx context.Context, call *Call, offer []byte, reinvite bool) ([]byte, error)
	// Ended is called exactly once when the dialog ends: BYE received, CANCEL, or ACK timeout.
	Ended(callID string, reason string)
}

// Config of the SIP agent.
type Config struct {
	Addr           string   // UDP and TCP listen address, e.g. 127.0.0.1:8060 (port 0: any free port, same for both)
	Transports     []string // "udp", "tcp" ("tls" is accepted: TLS runs when TLSCert and TLSKey are set); empty: udp and tcp
	TLSAddr        string   // TLS listen address, used when TLSCert and TLSKey are set
	TLSCert        string
	TLSKey         string
	SessionExpires time.Duration // RFC 4028 interval we answer with; 0: 600 s, negative: no session timer
	UserAgent      string        // User-Agent header; empty: "mrcpd"

	// T1 is the RFC 3261 round-trip estimate (default 500 ms): 2xx retransmissions start at T1,
	// and an INVITE's 2xx without ACK for 64*T1 ends the dialog (§13.3.1.4). Tests shorten it.
	T1 time.Duration
	// OfferTimeout bounds Handler.Offer (default 10 s) so that no client waits forever.
	OfferTimeout time.Duration
	Metrics      *Metrics
	// Clock runs the dialogs' timers (2xx retransmission, ACK wait, session expiry); nil is the
	// wall clock.
	Clock clock.Clock
}

func (c *Config) setDefaults() {
	if len(c.Transports) == 0 {
		c.Transports = []string{"udp", "tcp"}
	}
	if c.SessionExpires == 0 {
		c.SessionExpires = 600 * time.Second
	}
	if c.UserAgent == "" {
		c.UserAgent = "mrcpd"
	}
	if c.T1 <= 0 {
		c.T1 = sip.T1
	}
	if c.OfferTimeout <= 0 {
		c.OfferTimeout = 10 * time.Second
	}
}

// Server is the SIP agent: it answers INVITEs through a Handler and keeps the dialogs.
type Server struct {
	cfg     Config
	handler Handler
	log     *slog.Logger
	clock   clock.Clock
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	client  *sipgo.Client

	udp   net.PacketConn
	tcp   net.Listener
	tls   net.Listener
	addrs map[string]net.Addr

	draining atomic.Bool
	runCtx   context.Context // set by Run before serving; cancelled as it stops (re-INVITE offers)
	wg       sync.WaitGroup  // live dialogs (done once ended, their BYE answered)
	offers   sync.WaitGroup  // Handler.Offer calls of initial INVITEs

	mu      sync.Mutex
	dialogs map[string]*dialog // by Call-ID
	closed  bool

	cancelMu sync.Mutex
	early    map[cancelKey]earlyEntry // CANCELs and answers of the last 64*T1 (cancel.go)
}

// NewServer binds the configured sockets (so that Addr reports real ports before Run) and sets
// up sipgo's layers. Run serves them and closes them when its context ends.
func NewServer(cfg Config, h Handler, log *slog.Logger) (*Server, error) {
	cfg.setDefaults()
	s := &Server{cfg: cfg, handler: h, log: log, clock: clock.Or(cfg.Clock), addrs: map[string]net.Addr{},
		dialogs: map[string]*dialog{}}
	if err := s.listen(); err != nil {
		s.closeListeners()
		return nil, err
	}
	layers := slog.New(newTransportLog(log.Handler(), cfg.Metrics)) // what remotes send is logged bounded
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(cfg.UserAgent),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(layers)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(layers)))
	if err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("sip: user agent: %w", err)
	}
	s.ua = ua
	if s.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(log)); err != nil {
		return nil, errors.Join(fmt.Errorf("sip: server: %w", err), ua.Close(), s.closeListeners())
	}
	if s.client, err = sipgo.NewClient(ua, sipgo.WithClientLogger(log)); err != nil {
		return nil, errors.Join(fmt.Errorf("sip: client: %w", err), ua.Close(), s.closeListeners())
	}
	s.srv.OnInvite(s.onInvite)
	s.srv.OnAck(s.onAck)
	s.srv.OnBye(s.onBye)
	s.srv.OnCancel(s.onCancel)
	s.srv.OnOptions(s.onOptions)
	s.srv.OnUpdate(s.onUpdate)
	s.srv.OnNoRoute(s.onOther)
	return s, nil
}

// listen binds UDP and TCP on one address; with port 0 both get the same free port.
func (s *Server) listen() error {
	want := map[string]bool{}
	for _, t := range s.cfg.Transports {
		switch t = strings.ToLower(t); t {
		case "udp", "tcp":
			want[t] = true
		case "tls": // enabled by TLSCert and TLSKey on TLSAddr
		default:
			return fmt.Errorf("sip: unknown transport %q (want udp, tcp, tls)", t)
		}
	}
	var lastErr error
	for range 20 { // port 0: the UDP port may be taken for TCP; try another
		err := s.bindPair(want)
		if err == nil {
			break
		}
		lastErr = err
		s.closeListeners()
		if !strings.HasSuffix(s.cfg.Addr, ":0") {
			return err
		}
	}
	if s.udp == nil && s.tcp == nil {
		return fmt.Errorf("sip: listen %s: %w", s.cfg.Addr, lastErr)
	}
	if s.cfg.TLSCert != "" && s.cfg.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("sip: TLS certificate: %w", err)
		}
		l, err := tls.Listen("tcp", s.cfg.TLSAddr, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		if err != nil {
			return fmt.Errorf("sip: listen tls %s: %w", s.cfg.TLSAddr, err)
		}
		s.tls, s.addrs["tls"] = l, l.Addr()
	}
	return nil
}

func (s *Server) bindPair(want map[string]bool) error {
	addr := s.cfg.Addr
	if want["udp"] {
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return fmt.Errorf("sip: listen udp %s: %w", addr, err)
		}
		s.udp, s.addrs["udp"] = c, c.LocalAddr()
		addr = c.LocalAddr().String()
	}
	if want["tcp"] {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("sip: listen tcp %s: %w", addr, err)
		}
		s.tcp, s.addrs["tcp"] = l, l.Addr()
	}
	return nil
}

func (s *Server) closeListeners() error {
	var errs []error
	if s.udp != nil {
		errs = append(errs, s.udp.Close())
		s.udp = nil
	}
	if s.tcp != nil {
		errs = append(errs, s.tcp.Close())
		s.tcp = nil
	}
	if s.tls != nil {
		errs = append(errs, s.tls.Close())
		s.tls = nil
	}
	clear(s.addrs)
	return errors.Join(errs...)
}

// Addr is the bound address of a transport ("udp", "tcp", "tls"), nil if not listening.
func (s *Server) Addr(transport string) net.Addr { return s.addrs[strings.ToLower(transport)] }

// SetDraining makes OPTIONS and new INVITEs answer 503 while live dialogs carry on.
func (s *Server) SetDraining(on bool) { s.draining.Store(on) }

// Run serves until ctx is done, then ends every live dialog (BYE, Handler.Ended "shutdown") and
// closes the sockets.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.closed || s.runCtx != nil {
		s.mu.Unlock()
		return ErrClosed
	}
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	s.runCtx = runCtx
	s.mu.Unlock()

	serveErr := make(chan error, 3)
	var serving sync.WaitGroup
	serve := func(name string, f func() error) {
		serving.Go(func() {
			if err := f(); err != nil && !errors.Is(err, net.ErrClosed) {
				serveErr <- fmt.Errorf("sip: serve %s: %w", name, err)
			}
		})
	}
	if s.udp != nil {
		udp := s.udp
		serve("udp", func() error { return s.srv.ServeUDP(udp) })
	}
	if s.tcp != nil {
		tcp := s.tcp
		serve("tcp", func() error { return s.srv.ServeTCP(tcp) })
	}
	if s.tls != nil {
		tl := s.tls
		serve("tls", func() error { return s.srv.ServeTLS(tl) })
	}
	s.log.Info("sip listening", "udp", s.addrs["udp"], "tcp", s.addrs["tcp"], "tls", s.addrs["tls"])

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	cancelRun()
	s.waitOffers()
	s.endDialogs()
	s.wg.Wait() // dialogs send their BYEs while the sockets are still open
	err = errors.Join(err, s.closeListeners())
	err = errors.Join(err, s.ua.Close())
	serving.Wait()
	return err
}

// Bye ends a dialog from our side: sends BYE, waits for its response (or ctx) and then calls
// Handler.Ended(callID, "bye sent").
func (s *Server) Bye(ctx context.Context, callID string) error {
	s.mu.Lock()
	d := s.dialogs[callID]
	s.mu.Unlock()
	if d == nil {
		return fmt.Errorf("%w: %s", ErrNoDialog, callID)
	}
	return d.bye(ctx)
}

// register adds a dialog and starts its timers; false if the Call-ID is taken or the server
// is stopping.
func (s *Server) register(d *dialog, ok *sip.Response) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.runCtx == nil || s.dialogs[d.call.CallID] != nil {
		return false
	}
	s.dialogs[d.call.CallID] = d
	s.wg.Add(1)
	d.start(ok)
	return true
}

// endDialogs ends every live dialog as Run stops; no new one registers once closed is set.
func (s *Server) endDialogs() {
	s.mu.Lock()
	live := make([]*dialog, 0, len(s.dialogs))
	for _, d := range s.dialogs {
		live = append(live, d)
	}
	s.mu.Unlock()
	for _, d := range live {
		d.shutdown()
	}
}

// goOffer runs an Offer call on a goroutine Run waits for (boundedly); false once Run is
// stopping, so that no Add races Run's Wait.
func (s *Server) goOffer(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.offers.Go(f)
	return true
}

// waitOffers waits for Offer calls, whose contexts are cancelled, but not forever: a Handler
// that ignores its context must not keep the process from stopping.
func (s *Server) waitOffers() {
	done := make(chan struct{})
	go func() { s.offers.Wait(); close(done) }()
	t := time.NewTimer(s.cfg.OfferTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.log.Error("Handler.Offer calls still running at shutdown", "waited", s.cfg.OfferTimeout)
	}
}

func (s *Server) unregister(d *dialog) {
	s.mu.Lock()
	if s.dialogs[d.call.CallID] == d {
		delete(s.dialogs, d.call.CallID)
	}
	s.mu.Unlock()
}

// runCtxOrDone is Run's context, or a cancelled one when Run is not running.
func (s *Server) runCtxOrDone() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runCtx == nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}
	return s.runCtx
}

// lookup finds the dialog of an in-dialog request, checking both tags (RFC 3261 §12.2.2).
func (s *Server) lookup(req *sip.Request) *dialog {
	s.mu.Lock()
	d := s.dialogs[callID(req)]
	s.mu.Unlock()
	if d == nil || d.call.FromTag != fromTag(req) || d.call.ToTag != toTag(req) {
		return nil
	}
	return d
}

func (s *Server) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, log *slog.Logger, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	res.AppendHeader(sip.NewHeader("User-Agent", s.cfg.UserAgent))
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		log.Warn("sip response not sent", "code", code, "method", req.Method, "error", err)
	}
}

func remoteTransport(req *sip.Request) string { return strings.ToLower(req.Transport()) }

func portOf(a net.Addr) int {
	if a == nil {
		return 0
	}
	_, p, _ := net.SplitHostPort(a.String())
	n, _ := strconv.Atoi(p)
	return n
}

type maxAnswerKey struct{}

// MaxAnswer is the largest SDP answer the Offer of ctx can send: a re-INVITE over UDP must fit
// its 200 in one datagram (RFC 3261 §18.1.1), and answering 513 must leave the session on its
// previous offer, which only the Handler can do.
func MaxAnswer(ctx context.Context) (int, bool) {
	n, ok := ctx.Value(maxAnswerKey{}).(int)
	return n, ok
}

// WithMaxAnswer is ctx with MaxAnswer n.
func WithMaxAnswer(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, maxAnswerKey{}, n)
}
