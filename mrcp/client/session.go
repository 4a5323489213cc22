package client

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/sdp"
)

// Session is one MRCP channel: its SIP dialog, control connection and RTP socket. Its methods
// are for one goroutine, except that media may run alongside on RTP.
type Session struct {
	c             *Client
	Resource      string
	Channel       string // "<id>@<resource>" from the answer
	CallID        string
	InviteLatency time.Duration // INVITE sent to 200 OK received

	RTP *net.UDPConn // our RTP socket
	// Media is RTP as the session's media sees it: RTP itself, or SRTP on it (Config.SRTP).
	Media     net.PacketConn
	RemoteRTP *net.UDPAddr  // the server's RTP address (answer's c= and m=audio port)
	Codec     media.Format  // the answered codec
	DTMF      *media.Format // the answered telephone-event, nil if none

	invite   *sip.Request
	ok       *sip.Response
	acked    atomic.Pointer[sip.Request] // the ACK sent, for the 2xx's retransmissions
	cseq     uint32
	ctrl     net.Conn
	dec      *mrcp.Decoder
	nextID   uint32
	pending  []*mrcp.Message // events read while waiting for a response
	ctrlAddr string
	ended    atomic.Bool
	ctrlMu   sync.Mutex // ctrl is closed from the SIP goroutine on the server's BYE
	once     sync.Once
	offerKey *sdp.Crypto // our SDES key, when Config.SRTP is set
}

// mediaConn is what the session's Sender and Receiver use.
func (s *Session) mediaConn() net.PacketConn {
	if s.Media != nil {
		return s.Media
	}
	return s.RTP
}

// useSRTP protects Media with the keys of the answer's a=crypto (RFC 4568 §7.1.2: it echoes the
// tag and suite of the one it chose, with the answerer's key).
func (s *Session) useSRTP(au sdp.Audio) error {
	if s.offerKey == nil {
		return nil
	}
	if au.Proto != sdp.ProtoSRTP || len(au.Crypto) == 0 {
		return fmt.Errorf("client: offered RTP/SAVP, answered %s without a=crypto", au.Proto)
	}
	c := au.Crypto[0]
	if c.Tag != s.offerKey.Tag || c.Suite != s.offerKey.Suite {
		return fmt.Errorf("client: answer's a=crypto %d %s is not the offered %d %s", c.Tag, c.Suite, s.offerKey.Tag, s.offerKey.Suite)
	}
	keys, err := media.NewSRTP(c.Suite, c.Key, s.offerKey.Key)
	if err != nil {
		return fmt.Errorf("client: answer's SRTP key: %w", err)
	}
	s.Media = media.NewSRTPConn(s.RTP, keys, false)
	return nil
}

// Open sets up a session for resource ("speechrecog", "speechsynth", "recorder"): INVITE,
// 200 OK, ACK, then the TCP control connection. On failure nothing is left open.
func (c *Client) Open(ctx context.Context, resource string) (*Session, error) {
	rtpConn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(c.cfg.LocalIP)})
	if err != nil {
		return nil, fmt.Errorf("client: RTP socket: %w", err)
	}
	s, err := c.open(ctx, resource, rtpConn, rtpConn.LocalAddr().(*net.UDPAddr).Port)
	if err != nil { // the socket may have been closed with the session already
		err = errors.Join(err, ignoreClosed(rtpConn.Close()))
	}
	return s, err
}

// OpenPort is Open for a caller that owns the RTP socket on LocalIP:rtpPort (a load generator
// running many sessions' media on a few workers): Session.RTP is nil and Close leaves the socket
// alone.
func (c *Client) OpenPort(ctx context.Context, resource string, rtpPort int) (*Session, error) {
	return c.open(ctx, resource, nil, rtpPort)
}

// open returns a nil Session on every failure; a session whose INVITE succeeded was closed.
func (c *Client) open(ctx context.Context, resource string, rtpConn *net.UDPConn, rtpPort int) (*Session, error) {
	s := &Session{c: c, Resource: resource, RTP: rtpConn, CallID: uuid.NewString(), cseq: 1 + rand.Uint32N(1<<30), nextID: 1}
	if c.cfg.SRTP != "" {
		if rtpConn == nil {
			return nil, fmt.Errorf("client: SRTP needs the session's own RTP socket (Open, not OpenPort)")
		}
		s.offerKey = &sdp.Crypto{Tag: 1, Suite: c.cfg.SRTP, Key: make([]byte, sdp.KeySaltLen)}
		_, _ = crand.Read(s.offerKey.Key) // crypto/rand.Read never fails (Go 1.24+)
	}
	if err := s.runInvite(ctx, buildOffer(c.cfg.LocalIP, rtpPort, resource, offeredFormats, c.cfg.SendRecv, s.offerKey)); err != nil {
		return nil, err
	}
	if err := s.connect(ctx); err != nil {
		return nil, errors.Join(err, s.Close(context.WithoutCancel(ctx)))
	}
	return s, nil
}

// runInvite runs the INVITE transaction and ACKs its 2xx (RFC 3261 §13.2).
func (s *Session) runInvite(ctx context.Context, offer []byte) error {
	c := s.c
	req := sip.NewRequest(sip.INVITE, c.server)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", Host: c.cfg.LocalIP, Port: portOf(c.localSIP())}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(13))
	to := &sip.ToHeader{Address: c.server, Params: sip.NewParams()}
	cid := sip.CallIDHeader(s.CallID)
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: s.cseq, MethodName: sip.INVITE})
	req.AppendHeader(&maxFwd)
	req.AppendHeader(sip.NewHeader("User-Agent", c.cfg.UserAgent))
	req.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS"))
	req.AppendHeader(sip.NewHeader("Supported", "timer"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.AppendHeader(sip.NewHeader("Content-Disposition", "session"))
	req.SetBody(offer)
	req.SetTransport(transportName(c.cfg.Transport))
	s.invite = req

	c.track(s)
	ictx, cancel := timeoutCtx(ctx, 32*time.Second)
	defer cancel()
	start := time.Now()
	tx, err := c.sip.TransactionRequest(ictx, req)
	if err != nil {
		c.untrack(s)
		return fmt.Errorf("client: INVITE: %w", err)
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			s.InviteLatency = time.Since(start)
			if !res.IsSuccess() {
				c.untrack(s)
				w := ""
				if h := res.GetHeader("Warning"); h != nil {
					w = h.Value()
				}
				return &SIPError{Code: res.StatusCode, Reason: res.Reason, Warning: w}
			}
			s.ok = res
			if err := s.ack(); err != nil {
				c.untrack(s)
				return err
			}
			return s.readAnswer(res.Body())
		case <-tx.Done():
			c.untrack(s)
			return fmt.Errorf("client: INVITE: %w", tx.Err())
		case <-ictx.Done():
			c.untrack(s)
			return fmt.Errorf("client: INVITE: %w", ictx.Err())
		}
	}
}

// ack acknowledges the 2xx: a new transaction-less request to the Contact (RFC 3261 §13.2.2.4).
func (s *Session) ack() error {
	ack := s.inDialog(sip.ACK, s.cseq)
	if err := s.c.sip.WriteRequest(ack); err != nil {
		return err
	}
	s.acked.Store(ack)
	return nil
}

// inDialog builds a request of our dialog: to the server's Contact, with its To tag.
func (s *Session) inDialog(method sip.RequestMethod, cseq uint32) *sip.Request {
	target := s.c.server
	if ct := s.ok.Contact(); ct != nil {
		target = ct.Address
	}
	req := sip.NewRequest(method, target)
	from := s.invite.From()
	to := s.ok.To()
	cid := sip.CallIDHeader(s.CallID)
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: method})
	req.AppendHeader(&maxFwd)
	// The route set is the 2xx's Record-Route in reverse (RFC 3261 §12.1.2), so that ACK and BYE
	// pass the proxies that asked to stay in the path (Kamailio in front of several mrcpd); with
	// loose routing the first Route is where the request goes (§12.2.1.1).
	rr := s.ok.GetHeaders("Record-Route")
	for i := len(rr) - 1; i >= 0; i-- {
		req.AppendHeader(sip.NewHeader("Route", rr[i].Value()))
	}
	req.SetTransport(transportName(s.c.cfg.Transport))
	req.SetBody(nil)
	return req
}

// ControlAddr is the server's MRCP control address from the answer: which mrcpd serves the
// session when a proxy chose among several.
func (s *Session) ControlAddr() string { return s.ctrlAddr }

// readAnswer takes the channel, control port and media parameters from the SDP answer.
func (s *Session) readAnswer(body []byte) error {
	a, err := sdp.ParseAnswer(body)
	if err != nil {
		return fmt.Errorf("client: answer: %w", err)
	}
	if len(a.Control) != 1 || a.Control[0].Port == 0 || a.Control[0].Channel == "" {
		return fmt.Errorf("client: answer has no usable control m-line")
	}
	s.Channel = a.Control[0].Channel
	if len(a.Audio) != 1 || a.Audio[0].Port == 0 || len(a.Audio[0].Formats) == 0 {
		return fmt.Errorf("client: answer has no usable audio m-line")
	}
	au := a.Audio[0]
	s.RemoteRTP = &net.UDPAddr{IP: net.ParseIP(au.ConnAddr), Port: au.Port}
	for _, f := range au.Formats {
		mf := media.Format{PT: f.PT, Name: f.Name, ClockRate: f.ClockRate, Channels: f.Channels, Fmtp: f.Fmtp}
		switch {
		case mf.IsTelephoneEvent():
			s.DTMF = &mf
		case s.Codec.Name == "":
			s.Codec = mf
		}
	}
	if s.Codec.Name == "" {
		return fmt.Errorf("client: answer has no audio codec")
	}
	if err := s.useSRTP(au); err != nil {
		return err
	}
	addr := a.ConnAddr
	if addr == "" {
		addr = au.ConnAddr
	}
	s.ctrlAddr = net.JoinHostPort(addr, strconv.Itoa(a.Control[0].Port))
	return nil
}

func (s *Session) connect(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.ctrlAddr)
	if err != nil {
		return fmt.Errorf("client: control connection: %w", err)
	}
	s.ctrlMu.Lock()
	defer s.ctrlMu.Unlock()
	if s.ended.Load() {
		return errors.Join(ErrSessionEnded, conn.Close())
	}
	s.ctrl, s.dec = conn, mrcp.NewDecoder(conn, 0)
	return nil
}

// NewRequest is a request of this channel with the next request id (RFC 6787 §5.2).
func (s *Session) NewRequest(method string) *mrcp.Message {
	m := mrcp.NewRequest(method, s.nextID, s.Channel)
	s.nextID++
	return m
}

// Send writes req and returns its response; events that arrive first are kept for Next.
func (s *Session) Send(ctx context.Context, req *mrcp.Message) (*mrcp.Message, error) {
	if err := s.withDeadline(ctx, func() error {
		_, err := s.ctrl.Write(req.Append(nil))
		return err
	}); err != nil {
		return nil, fmt.Errorf("client: sending %s: %w", req.Name, err)
	}
	for {
		m, err := s.read(ctx)
		if err != nil {
			return nil, fmt.Errorf("client: waiting for the response to %s: %w", req.Name, err)
		}
		if m.Kind == mrcp.KindResponse && m.RequestID == req.RequestID {
			return m, nil
		}
		s.pending = append(s.pending, m)
	}
}

// Next returns the next event (or unsolicited message) of the channel.
func (s *Session) Next(ctx context.Context) (*mrcp.Message, error) {
	if len(s.pending) > 0 {
		m := s.pending[0]
		s.pending = s.pending[1:]
		return m, nil
	}
	return s.read(ctx)
}

func (s *Session) read(ctx context.Context) (*mrcp.Message, error) {
	var m *mrcp.Message
	err := s.withDeadline(ctx, func() error {
		var err error
		m, err = s.dec.Decode()
		return err
	})
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, ErrSessionEnded
	}
	if err == nil {
		s.c.log.Debug("mrcp received", "call_id", s.CallID, "kind", m.Kind, "name", m.Name, "request_id", m.RequestID,
			"status", m.StatusCode, "state", m.State, "cause", m.Header.Value(mrcp.HeaderCompletionCause))
	}
	return m, err
}

// withDeadline runs an I/O call that ctx can interrupt.
func (s *Session) withDeadline(ctx context.Context, f func() error) error {
	stop := context.AfterFunc(ctx, func() { _ = s.ctrl.SetDeadline(time.Unix(1, 0)) })
	err := f()
	if !stop() {
		_ = s.ctrl.SetDeadline(time.Time{})
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return err
}

// Ended reports whether the server sent BYE.
func (s *Session) Ended() bool { return s.ended.Load() }

func (s *Session) remoteBye() {
	s.ctrlMu.Lock()
	defer s.ctrlMu.Unlock()
	s.ended.Store(true)
	if s.ctrl != nil {
		_ = s.ctrl.Close() // wakes a pending read: Next returns ErrSessionEnded
	}
}

// Close sends BYE (unless the server ended the dialog) and closes the sockets.
func (s *Session) Close(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		if !s.ended.Load() && s.ok != nil {
			s.cseq++
			bctx, cancel := timeoutCtx(ctx, 5*time.Second)
			res, berr := s.c.sip.Do(bctx, s.inDialog(sip.BYE, s.cseq))
			cancel()
			if berr != nil {
				err = fmt.Errorf("client: BYE: %w", berr)
			} else if !res.IsSuccess() {
				err = fmt.Errorf("client: BYE answered %d %s", res.StatusCode, res.Reason)
			}
		}
		s.c.untrack(s)
		s.ctrlMu.Lock()
		if s.ctrl != nil {
			err = errors.Join(err, ignoreClosed(s.ctrl.Close()))
		}
		s.ctrlMu.Unlock()
		if s.RTP != nil {
			err = errors.Join(err, s.RTP.Close())
		}
	})
	return err
}

func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func transportName(t string) string {
	if t == "tcp" {
		return "TCP"
	}
	return "UDP"
}

func portOf(hostport string) int {
	_, p, _ := net.SplitHostPort(hostport)
	n, _ := strconv.Atoi(p)
	return n
}

// describe renders a response for an error message: status, state and the header fields the
// server added (RFC 6787 §5.4 has it echo the field at fault).
func describe(res *mrcp.Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", res.StatusCode, res.State)
	for _, f := range res.Header.Fields {
		if strings.EqualFold(f.Name, mrcp.HeaderChannelIdentifier) || strings.EqualFold(f.Name, mrcp.HeaderContentLength) {
			continue
		}
		fmt.Fprintf(&b, "; %s: %s", f.Name, f.Value)
	}
	return b.String()
}
