package esl

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/percipia/eslgo/command"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mrcpd/mrcpd/asr/clock"
)

// Config for an inbound client (we connect to mod_event_socket).
type Config struct {
	Addr     string // host:port of mod_event_socket, e.g. 127.0.0.1:8021
	Password string
	Logger   *slog.Logger
	Registry prometheus.Registerer // nil: metrics are kept but not registered
	Clock    clock.Clock           // nil: the wall clock

	// Format is "plain" (default) or "json"; both are decoded the same way.
	Format string
	// Events are subscribed in addition to the ones the client needs itself.
	Events []string

	HeartbeatInterval time.Duration // default 15s; negative disables
	HeartbeatTimeout  time.Duration // default 5s
	DialTimeout       time.Duration // default 5s
	BackoffMin        time.Duration // default 100ms
	BackoffMax        time.Duration // default 10s
	MailboxSize       int           // per call, default 4096
	// UnclaimedSize > 0 keeps events of channels nobody tracks (inbound calls
	// parked by the dialplan) for Client.NextUnclaimed.
	UnclaimedSize int
	// IgnoreLostEventNotices turns off the "log 2" subscription through which
	// FreeSWITCH reports "Lost [n] events!" for a listener whose queue overflowed.
	IgnoreLostEventNotices bool

	// Dial overrides how the TCP connection is made (tests, TLS tunnels).
	Dial func(ctx context.Context, addr string) (net.Conn, error)
}

// baseEvents are always subscribed: the client's own matching needs them.
var baseEvents = []string{EventChannelCreate, EventChannelProgress, EventChannelProgressMedia,
	EventChannelAnswer, EventChannelExecute, EventChannelExecuteComplete, EventChannelBridge,
	EventChannelHangup, EventChannelHangupComplete, EventDTMF, EventBackgroundJob, EventDetectedSpeech,
	EventRecordStart, EventRecordStop}

func (cfg *Config) setDefaults() {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Format == "" {
		cfg.Format = "plain"
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = 15 * time.Second
	}
	if cfg.HeartbeatTimeout == 0 {
		cfg.HeartbeatTimeout = 5 * time.Second
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin = 100 * time.Millisecond
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = 10 * time.Second
	}
	if cfg.MailboxSize == 0 {
		cfg.MailboxSize = 4096
	}
	if cfg.Dial == nil {
		cfg.Dial = func(ctx context.Context, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}
	}
}

// Client is an Event Socket client that survives reconnects. Its calls keep
// their mailboxes across a reconnect and get an EventResync or EventGone once
// the client has re-checked them.
type Client struct {
	cfg     Config
	log     *slog.Logger
	metrics *Metrics
	clock   clock.Clock
	closing chan struct{} // closed by Close
	wg      sync.WaitGroup
	resyncq chan string // reasons; capacity 1, written by the reader

	mu        sync.Mutex
	cur       *conn
	ready     chan struct{} // closed while cur != nil
	closed    bool
	calls     map[string]*Call
	jobs      map[string]*waiter
	apps      map[string]*waiter
	filters   []string
	unclaimed *mailbox
}

type waiter struct {
	ch       chan result // capacity 1
	callUUID string
	what     string
	cn       *conn // the connection the command went out on
}

type result struct {
	ev  *Event
	err error
}

func (w *waiter) deliver(r result) {
	select {
	case w.ch <- r:
	default: // already delivered; a waiter takes one outcome
	}
}

// Dial connects and authenticates. A wrong password returns *AuthError. On
// success a supervisor goroutine keeps the connection alive (heartbeat,
// reconnect with backoff) until Close.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	cfg.setDefaults()
	if cfg.Format != "plain" && cfg.Format != "json" {
		return nil, fmt.Errorf("%w: event format %q", ErrInvalidValue, cfg.Format)
	}
	m, err := NewMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	c := newClient(cfg, m)
	cn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	c.wg.Add(1)
	go c.supervise(cn)
	return c, nil
}

func newClient(cfg Config, m *Metrics) *Client {
	c := &Client{
		cfg: cfg, log: cfg.Logger, metrics: m, clock: cfg.Clock, closing: make(chan struct{}),
		resyncq: make(chan string, 1),
		ready:   make(chan struct{}),
		calls:   map[string]*Call{},
		jobs:    map[string]*waiter{},
		apps:    map[string]*waiter{},
	}
	if cfg.UnclaimedSize > 0 {
		c.unclaimed = newMailbox(cfg.UnclaimedSize, m)
	}
	return c
}

// connect dials, authenticates, starts the reader and restores subscriptions
// and filters, then publishes the connection.
func (c *Client) connect(ctx context.Context) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	nc, err := c.cfg.Dial(dctx, c.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("esl: dial %s: %w", c.cfg.Addr, err)
	}
	cn := newConn(nc, c.log, c.metrics)
	cn.onFail = c.markDown
	deadline, _ := dctx.Deadline()
	if err := cn.authenticate(c.cfg.Password, deadline); err != nil {
		_ = nc.Close()
		return nil, err
	}
	cn.onEvent = c.route
	cn.onLog = c.onLog
	cn.start(&c.wg)
	if err := c.subscribe(dctx, cn); err != nil {
		cn.fail(err)
		return nil, err
	}
	c.mu.Lock()
	c.cur = cn
	close(c.ready)
	c.mu.Unlock()
	c.metrics.connected.Set(1)
	return cn, nil
}

func (c *Client) subscribe(ctx context.Context, cn *conn) error {
	events := append(append([]string{}, baseEvents...), c.cfg.Events...)
	cmds := []string{command.Event{Format: c.cfg.Format, Listen: dedupe(events)}.BuildMessage()}
	if !c.cfg.IgnoreLostEventNotices {
		cmds = append(cmds, "log 2")
	}
	c.mu.Lock()
	cmds = append(cmds, c.filters...)
	c.mu.Unlock()
	for _, cmd := range cmds {
		m, err := cn.send(ctx, cmd)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(m.ReplyText(), "+OK") {
			return &CommandError{Command: cmd, Reply: m.ReplyText()}
		}
	}
	return nil
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// markDown unpublishes a dead connection at once, so no command is written to
// it while the supervisor is still noticing.
func (c *Client) markDown(cn *conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == cn {
		c.cur = nil
		c.ready = make(chan struct{})
		c.metrics.connected.Set(0)
	}
}

// Close stops reconnecting, closes the connection and every mailbox, and waits
// for the client's goroutines.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cur := c.cur
	calls := c.calls
	c.calls = map[string]*Call{}
	c.mu.Unlock()
	close(c.closing)
	if cur != nil {
		cur.fail(ErrClosed)
	}
	for _, call := range calls {
		call.mb.close()
	}
	if c.unclaimed != nil {
		c.unclaimed.close()
	}
	c.wg.Wait()
	c.metrics.connected.Set(0)
	return nil
}

// conn returns the live connection, waiting through a reconnect.
func (c *Client) conn(ctx context.Context) (*conn, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		cur, ready := c.cur, c.ready
		c.mu.Unlock()
		if cur != nil {
			return cur, nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.closing:
			return nil, ErrClosed
		}
	}
}

// background returns a context that ends when the client closes, for the
// client's own work (reconnects, resyncs, heartbeats).
func (c *Client) background() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		select {
		case <-c.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// SendRaw sends one command line (and optional header lines, joined by \n) and
// returns FreeSWITCH's reply message. Values must already be safe; the typed
// helpers below check them.
func (c *Client) SendRaw(ctx context.Context, cmd string) (*Message, error) {
	cn, err := c.conn(ctx)
	if err != nil {
		return nil, err
	}
	return cn.send(ctx, cmd)
}

// API runs a synchronous api command and returns its body. "-ERR" and
// "-USAGE" bodies are returned as *CommandError.
func (c *Client) API(ctx context.Context, cmd string) (string, error) {
	if err := checkLine(cmd); err != nil {
		return "", err
	}
	m, err := c.SendRaw(ctx, "api "+cmd)
	if err != nil {
		return "", err
	}
	body := string(m.Body)
	if strings.HasPrefix(body, "-ERR") || strings.HasPrefix(body, "-USAGE") {
		return body, &CommandError{Command: cmd, Reply: strings.TrimSpace(body)}
	}
	return body, nil
}

// BgAPI runs a background api command. The Job-UUID is ours, registered before
// the command is written, so the BACKGROUND_JOB event cannot outrun its waiter.
func (c *Client) BgAPI(ctx context.Context, cmd string) (string, error) {
	return c.bgapi(ctx, cmd, "", nil)
}

func (c *Client) bgapi(ctx context.Context, cmd, callUUID string, acked func()) (string, error) {
	if err := checkLine(cmd); err != nil {
		return "", err
	}
	cn, err := c.conn(ctx)
	if err != nil {
		return "", err
	}
	job := NewUUID()
	w := &waiter{ch: make(chan result, 1), callUUID: callUUID, what: "bgapi " + firstWord(cmd), cn: cn}
	c.mu.Lock()
	c.jobs[job] = w
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.jobs, job)
		c.mu.Unlock()
	}()
	m, err := cn.send(ctx, "bgapi "+cmd+"\nJob-UUID: "+job)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(m.ReplyText(), "+OK") {
		return "", &CommandError{Command: cmd, Reply: m.ReplyText()}
	}
	if acked != nil {
		acked()
	}
	select {
	case r := <-w.ch:
		if r.err != nil {
			return "", r.err
		}
		body := strings.TrimRight(r.ev.Body, "\n")
		if strings.HasPrefix(body, "-ERR") || strings.HasPrefix(body, "-USAGE") {
			return body, &CommandError{Command: cmd, Reply: body}
		}
		return body, nil
	case <-ctx.Done():
		return "", ctx.Err()
	case <-c.closing:
		return "", ErrClosed
	}
}

// AddFilter adds an event filter now and after every reconnect.
func (c *Client) AddFilter(ctx context.Context, header, value string) error {
	if err := checkToken(header); err != nil {
		return err
	}
	if err := checkLine(value); err != nil {
		return err
	}
	cmd := command.Filter{EventHeader: header, FilterValue: value}.BuildMessage()
	m, err := c.SendRaw(ctx, cmd)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(m.ReplyText(), "+OK") {
		return &CommandError{Command: cmd, Reply: m.ReplyText()}
	}
	c.mu.Lock()
	c.filters = append(c.filters, cmd)
	c.mu.Unlock()
	return nil
}

// NextUnclaimed returns the next event of a channel nobody tracks (needs
// Config.UnclaimedSize > 0).
func (c *Client) NextUnclaimed(ctx context.Context) (*Event, error) {
	if c.unclaimed == nil {
		return nil, fmt.Errorf("%w: UnclaimedSize is 0", ErrInvalidValue)
	}
	return c.unclaimed.next(ctx, "")
}

// route runs on the socket reader: it only does map lookups and non-blocking
// pushes, so one slow call never holds up another.
func (c *Client) route(ev *Event) {
	var ws []*waiter
	var gone []*waiter
	c.mu.Lock()
	switch ev.Name {
	case EventBackgroundJob:
		if w, ok := c.jobs[ev.Get("Job-UUID")]; ok {
			ws = append(ws, w)
			delete(c.jobs, ev.Get("Job-UUID"))
		}
	case EventChannelExecuteComplete:
		if w, ok := c.apps[ev.Get("Application-UUID")]; ok {
			ws = append(ws, w)
			delete(c.apps, ev.Get("Application-UUID"))
		}
	case EventChannelHangupComplete:
		// Applications still queued on a dead channel never complete.
		for id, w := range c.apps {
			if w.callUUID == ev.UniqueID {
				gone = append(gone, w)
				delete(c.apps, id)
			}
		}
	}
	call := c.calls[ev.UniqueID]
	c.mu.Unlock()
	// Mailbox first: when Execute returns, its completion event (and every
	// event before it) is already in the call's mailbox.
	switch {
	case call != nil:
		call.mb.push(ev)
	case ev.UniqueID != "" && c.unclaimed != nil:
		c.unclaimed.push(ev)
	case ev.UniqueID != "":
		c.metrics.eventsDropped.WithLabelValues("untracked_channel").Inc()
	}
	for _, w := range ws {
		w.deliver(result{ev: ev})
	}
	for _, w := range gone {
		w.deliver(result{err: &ExecuteError{App: w.what, Cause: ev.HangupCause()}})
	}
}

// onLog watches FreeSWITCH's CRIT log for mod_event_socket's notice that this
// listener's queue overflowed ("Lost [n] events!", "Event enqueue ERROR").
func (c *Client) onLog(m *Message) {
	body := string(m.Body)
	if strings.Contains(body, "Lost [") && strings.Contains(body, "events") ||
		strings.Contains(body, "Event enqueue ERROR") {
		select {
		case c.resyncq <- "lost_events":
		default: // one resync pending already covers it
		}
	}
}

// NewUUID returns a random version 4 UUID.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// checkLine rejects values that would end the command or inject a header.
func checkLine(s string) error {
	if strings.ContainsAny(s, "\r\n\x00") {
		return fmt.Errorf("%w: %q contains a line break or NUL", ErrInvalidValue, truncate(s))
	}
	return nil
}

func checkToken(s string) error {
	if s == "" || strings.ContainsAny(s, " \t\r\n\x00") {
		return fmt.Errorf("%w: %q is not a single token", ErrInvalidValue, truncate(s))
	}
	return nil
}
