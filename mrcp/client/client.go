// Package client is an MRCPv2 client (RFC 6787): SIP INVITE with an SDP offer shaped like
// FreeSWITCH mod_unimrcp's (no Contact header, the same m-lines and codecs), the TCP control
// connection to the answer's m=application port, and RTP through package media. It exists for
// people checking a server (cmd/mrcpclient) and for the integration tests and load runs.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Config of a Client.
type Config struct {
	Server    string // SIP address of the MRCP server, host:port
	Transport string // "udp" (default) or "tcp"
	LocalIP   string // our address for SIP, RTP and the SDP (default 127.0.0.1)
	UserAgent string // default "mrcpclient"
	// SRTP offers RTP/SAVP with a fresh SDES key of this suite (sdp.SuiteAES80 or SuiteAES32,
	// RFC 4568) and protects the media with the answered keys; empty offers RTP/AVP.
	SRTP string
	// SendRecv offers a=sendrecv for every resource (some clients do for a synthesizer too),
	// instead of mod_unimrcp's sendonly or recvonly.
	SendRecv bool
	Logger   *slog.Logger
}

// Client is a SIP user agent that opens MRCP sessions. It answers the server's BYE itself.
type Client struct {
	cfg    Config
	log    *slog.Logger
	ua     *sipgo.UserAgent
	sip    *sipgo.Client
	srv    *sipgo.Server
	udp    net.PacketConn
	server sip.Uri

	serving sync.WaitGroup

	mu       sync.Mutex
	sessions map[string]*Session // by Call-ID, for the server's BYE
}

// New starts a Client: a UDP SIP socket on LocalIP (always, so that the server's in-dialog
// requests reach us) and sipgo's layers. Close releases them.
func New(cfg Config) (*Client, error) {
	if cfg.Transport == "" {
		cfg.Transport = "udp"
	}
	cfg.Transport = strings.ToLower(cfg.Transport)
	if cfg.Transport != "udp" && cfg.Transport != "tcp" {
		return nil, fmt.Errorf("client: unknown transport %q", cfg.Transport)
	}
	if cfg.LocalIP == "" {
		cfg.LocalIP = "127.0.0.1"
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "mrcpclient"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	host, portS, err := net.SplitHostPort(cfg.Server)
	if err != nil {
		return nil, fmt.Errorf("client: server address %q: %w", cfg.Server, err)
	}
	port, err := strconv.Atoi(portS)
	if err != nil {
		return nil, fmt.Errorf("client: server port %q: %w", portS, err)
	}
	c := &Client{cfg: cfg, log: cfg.Logger, sessions: map[string]*Session{},
		server: sip.Uri{Scheme: "sip", Host: host, Port: port}}
	if c.udp, err = net.ListenPacket("udp", net.JoinHostPort(cfg.LocalIP, "0")); err != nil {
		return nil, fmt.Errorf("client: SIP socket: %w", err)
	}
	c.ua, err = sipgo.NewUA(sipgo.WithUserAgent(cfg.UserAgent),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(cfg.Logger),
			// A 100 Trying may be handled after the 2xx ended the transaction: not worth a log line.
			sip.WithTransactionLayerUnhandledResponseHandler(func(r *sip.Response) {
				if !c.reack(r) {
					cfg.Logger.Debug("unmatched SIP response", "status", r.StatusCode, "call_id", r.CallID())
				}
			})),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(cfg.Logger)))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("client: %w", err), c.udp.Close())
	}
	opts := []sipgo.ClientOption{sipgo.WithClientLogger(cfg.Logger), sipgo.WithClientHostname(cfg.LocalIP)}
	if cfg.Transport == "udp" {
		// Send from the listening socket so that the server's BYE comes back to it.
		opts = append(opts, sipgo.WithClientConnectionAddr(c.udp.LocalAddr().String()))
	}
	if c.sip, err = sipgo.NewClient(c.ua, opts...); err != nil {
		return nil, errors.Join(fmt.Errorf("client: %w", err), c.ua.Close(), c.udp.Close())
	}
	if c.srv, err = sipgo.NewServer(c.ua, sipgo.WithServerLogger(cfg.Logger)); err != nil {
		return nil, errors.Join(fmt.Errorf("client: %w", err), c.ua.Close(), c.udp.Close())
	}
	c.srv.OnBye(c.onBye)
	udp := c.udp
	c.serving.Go(func() { _ = c.srv.ServeUDP(udp) })
	if err := c.waitListening(); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return c, nil
}

// waitListening waits until sipgo has registered the UDP socket: requests sent before that
// would make sipgo bind a second socket on the same address.
func (c *Client) waitListening() error {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if conn, err := c.ua.TransportLayer().GetConnection("udp", c.udp.LocalAddr().String()); err == nil && conn != nil {
			_, _ = conn.TryClose() // GetConnection took a reference
			return nil
		}
		runtime.Gosched()
	}
	return errors.New("client: SIP socket not ready")
}

// Close stops the SIP layers; sessions still open are not ended (close them first).
func (c *Client) Close() error {
	err := errors.Join(c.ua.Close(), c.udp.Close())
	c.serving.Wait()
	return err
}

// onBye: the server ended a session (RFC 3261 §15.1.2).
func (c *Client) onBye(req *sip.Request, tx sip.ServerTransaction) {
	cid := ""
	if h := req.CallID(); h != nil {
		cid = h.Value()
	}
	c.mu.Lock()
	s := c.sessions[cid]
	c.mu.Unlock()
	code, reason := 200, "OK"
	if s == nil {
		code, reason = 481, "Call/Transaction Does Not Exist"
	}
	if err := tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil)); err != nil {
		c.log.Warn("BYE response not sent", "call_id", cid, "error", err)
	}
	if s != nil {
		s.remoteBye()
	}
}

// reack answers a retransmission of a session's 2xx to its INVITE with the same ACK: the server
// resends the 2xx until an ACK arrives (RFC 3261 §13.2.2.4, §13.3.1.4), and the first ACK may have
// been lost (a full socket buffer on a loaded machine). The INVITE transaction ended with the first
// 2xx, so its retransmissions come here.
func (c *Client) reack(r *sip.Response) bool {
	cseq, cid := r.CSeq(), r.CallID()
	if !r.IsSuccess() || cseq == nil || cseq.MethodName != sip.INVITE || cid == nil {
		return false
	}
	c.mu.Lock()
	s := c.sessions[cid.Value()]
	c.mu.Unlock()
	var ack *sip.Request
	if s != nil {
		ack = s.acked.Load()
	}
	if ack == nil || s.invite.CSeq().SeqNo != cseq.SeqNo {
		return false
	}
	if err := c.sip.WriteRequest(ack.Clone()); err != nil {
		c.log.Warn("ACK not sent again", "call_id", cid.Value(), "error", err)
	}
	return true
}

func (c *Client) track(s *Session) {
	c.mu.Lock()
	c.sessions[s.CallID] = s
	c.mu.Unlock()
}

func (c *Client) untrack(s *Session) {
	c.mu.Lock()
	delete(c.sessions, s.CallID)
	c.mu.Unlock()
}

// localSIP is the host:port of our SIP socket (From and the SDP use it, as mod_unimrcp does).
func (c *Client) localSIP() string { return c.udp.LocalAddr().String() }

// Errors.
var (
	// ErrRejected: the server answered the INVITE with a failure; errors.As gives *SIPError.
	ErrRejected = errors.New("client: INVITE rejected")
	// ErrSessionEnded: the server sent BYE or closed the control connection.
	ErrSessionEnded = errors.New("client: session ended by the server")
)

// SIPError is a final non-2xx response to our INVITE.
type SIPError struct {
	Code    int
	Reason  string
	Warning string
}

func (e *SIPError) Error() string {
	s := fmt.Sprintf("client: INVITE answered %d %s", e.Code, e.Reason)
	if e.Warning != "" {
		s += " (" + e.Warning + ")"
	}
	return s
}

func (e *SIPError) Unwrap() error { return ErrRejected }

// SIPStatus is the SIP code the server answered.
func (e *SIPError) SIPStatus() int { return e.Code }

// timeoutCtx bounds ctx when it has no deadline of its own.
func timeoutCtx(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
