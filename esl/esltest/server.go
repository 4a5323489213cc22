// Package esltest is a fake FreeSWITCH speaking the Event Socket protocol byte
// for byte (see wire_test.go against the recorded transcript). It simulates
// calls in virtual time: each channel has its own clock that only the
// applications it runs move on (sleep 4000 advances it 4 s), so a test of a
// 10-second remote prompt takes microseconds and is deterministic. Remote
// auto-attendants discard digits heard during their prompt, connections can be
// dropped or stalled, and FreeSWITCH's sessions-per-second limit is enforced on
// an injected clock.
package esltest

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/esl"
)

// Behavior is how a dialled number behaves.
type Behavior struct {
	RingTime   time.Duration // until answer (or rejection); default 1 s
	EarlyMedia bool          // CHANNEL_PROGRESS_MEDIA before answer
	Reject     string        // hang up with this cause instead of answering
	// NoAnswer: the far end stays in early media (a carrier announcement).
	// Originate returns on early media unless ignore_early_media=true, in
	// which case it fails with NO_ANSWER after the ring time.
	NoAnswer  bool
	Attendant *Attendant // what the far end says and does with digits
	// Says is a conversational caller: the i-th speech detection on the leg
	// hears Says[i] (a voice-bot test's customer).
	Says     []string
	DTMFType string // dtmf_type of the leg; default rfc2833
}

// Epoch is where the fake switch's clock starts by default: the date of the recorded transcript.
var Epoch = time.Date(2026, 11, 22, 2, 13, 21, 0, time.UTC)

// Options configure the fake.
type Options struct {
	Password    string      // default ClueCon
	Clock       clock.Clock // event dates and the sessions-per-second window; default a fake clock at Epoch
	Logger      *slog.Logger
	MaxSPS      int // sessions per second, FreeSWITCH's default 30
	MaxSessions int // default 1000
	// Numbers maps a destination (the last part of the dial string, or the
	// extension of loopback/<ext>/<context>) to its behaviour.
	Numbers map[string]Behavior
	Default Behavior
	// LoseEvent, when it returns true for an event, drops it from every
	// listener's queue, and FreeSWITCH's CRIT log line for a lost event goes
	// to connections subscribed to logs ("Lost [1] events! ..."), as
	// mod_event_socket does when a listener's queue overflows.
	LoseEvent func(name string) bool
	// RecordDirs are the directories record_session can write in; default
	// /tmp. A path elsewhere fails as a file FreeSWITCH cannot open does.
	RecordDirs []string
}

// Server is the fake FreeSWITCH.
type Server struct {
	opts     Options
	log      *slog.Logger
	ln       net.Listener
	coreUUID string
	wg       sync.WaitGroup

	mu         sync.Mutex
	conns      map[*fconn]bool
	channels   map[string]*channel
	ended      map[string]*ChannelReport
	seq        uint64
	sessionID  int
	starts     []time.Time // originate times, for the sps window
	peak       int
	originates []OriginateRecord
	stalled    bool
	dropOn     func(cmd string) bool
	accepted   int
}

// OriginateRecord is one originate the fake processed.
type OriginateRecord struct {
	At     time.Time
	UUID   string
	Dest   string
	Result string
}

// Start listens on a loopback port.
func Start(opts Options) (*Server, error) {
	if opts.Password == "" {
		opts.Password = "ClueCon"
	}
	if opts.Clock == nil {
		opts.Clock = clock.NewFakeAt(Epoch)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxSPS == 0 {
		opts.MaxSPS = 30
	}
	if opts.MaxSessions == 0 {
		opts.MaxSessions = 1000
	}
	if opts.RecordDirs == nil {
		opts.RecordDirs = []string{"/tmp"}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts: opts, log: opts.Logger, ln: ln, coreUUID: "2f89b96c-5b77-4ab6-96f5-8cdb20ebbfcd",
		conns: map[*fconn]bool{}, channels: map[string]*channel{}, ended: map[string]*ChannelReport{},
		seq: 943, sessionID: 16,
	}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is host:port to dial.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops listening, drops every connection and waits for its goroutines.
func (s *Server) Close() {
	_ = s.ln.Close()
	s.DropConnections()
	s.wg.Wait()
}

// DropConnections closes every client connection abruptly, as a crash or a
// network failure would. Channels live on, as they do in FreeSWITCH.
func (s *Server) DropConnections() {
	s.mu.Lock()
	conns := make([]*fconn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// DropWhen drops all connections the first time a command matching f arrives
// (before handling it); f is removed once it fired.
func (s *Server) DropWhen(f func(cmd string) bool) {
	s.mu.Lock()
	s.dropOn = f
	s.mu.Unlock()
}

// Stall makes the fake read commands but never answer them (a wedged
// FreeSWITCH behind a live TCP connection).
func (s *Server) Stall(on bool) {
	s.mu.Lock()
	s.stalled = on
	s.mu.Unlock()
}

// Subscriptions describes each authenticated connection's event format and
// filters ("plain filters=Unique-ID:abc"), for tests of what a client restored.
func (s *Server) Subscriptions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for c := range s.conns {
		if !c.authed {
			continue
		}
		d := c.format
		for _, f := range c.filters {
			d += " filter=" + f[0] + ":" + f[1]
		}
		if c.logLevel >= 0 {
			d += fmt.Sprintf(" log=%d", c.logLevel)
		}
		out = append(out, d)
	}
	return out
}

// Connections is the number of live client connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Accepted is how many connections were ever accepted.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// SendLog sends a log/data line to connections that asked for that level.
func (s *Server) SendLog(level int, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.logLevel >= level {
			c.enqueue(LogData(level, text))
		}
	}
}

// InjectRaw writes raw bytes to every authenticated connection, in order with
// the events around it (malformed-event tests).
func (s *Server) InjectRaw(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.authed {
			c.enqueue(b)
		}
	}
}

// PeakChannels is the most channels that were up at once.
func (s *Server) PeakChannels() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// Originates lists every originate in the order processed.
func (s *Server) Originates() []OriginateRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]OriginateRecord(nil), s.originates...)
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		c := &fconn{s: s, nc: nc, notify: make(chan struct{}, 1), done: make(chan struct{}), logLevel: -1}
		s.mu.Lock()
		s.conns[c] = true
		s.accepted++
		s.mu.Unlock()
		s.wg.Add(2)
		go c.writeLoop()
		go c.readLoop()
	}
}

// emit assigns the next Event-Sequence and queues the event on every
// connection that wants it. s.mu must not be held.
func (s *Server) emit(name string, date time.Time, callingFunc string, hs []esl.Header, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	all := make([]esl.Header, 0, len(hs)+13)
	all = append(all,
		esl.Header{Name: "Event-Name", Value: name},
		esl.Header{Name: "Core-UUID", Value: s.coreUUID},
		esl.Header{Name: "FreeSWITCH-Hostname", Value: "vm"},
		esl.Header{Name: "FreeSWITCH-Switchname", Value: "vm"},
		esl.Header{Name: "FreeSWITCH-IPv4", Value: "127.0.0.1"},
		esl.Header{Name: "FreeSWITCH-IPv6", Value: "::1"},
		esl.Header{Name: "Event-Date-Local", Value: date.UTC().Format("2006-01-02 15:04:05")},
		esl.Header{Name: "Event-Date-GMT", Value: date.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")},
		esl.Header{Name: "Event-Date-Timestamp", Value: fmt.Sprint(date.UnixMicro())},
		esl.Header{Name: "Event-Calling-File", Value: callingFile(callingFunc)},
		esl.Header{Name: "Event-Calling-Function", Value: callingFunc},
		esl.Header{Name: "Event-Calling-Line-Number", Value: "1"},
		esl.Header{Name: "Event-Sequence", Value: fmt.Sprint(s.seq)},
	)
	all = append(all, hs...)
	if s.opts.LoseEvent != nil && s.opts.LoseEvent(name) {
		for c := range s.conns {
			if c.authed && c.wants(name, all) && c.logLevel >= 2 {
				c.enqueue(LogData(2, fmt.Sprintf("Lost [1] events! Event Queue size: [%d/%d]\n", maxQueueLen, maxQueueLen)))
			}
		}
		return
	}
	var plain, js []byte
	for c := range s.conns {
		if !c.authed || !c.wants(name, all) {
			continue
		}
		switch c.format {
		case "json":
			if js == nil {
				js = EncodeJSONEvent(all, body)
			}
			c.enqueue(js)
		default:
			if plain == nil {
				plain = EncodePlainEvent(all, body)
			}
			c.enqueue(plain)
		}
	}
}

var errNoChannel = errors.New("no such channel")

// maxQueueLen is mod_event_socket's MAX_QUEUE_LEN, in its lost-events notice.
const maxQueueLen = 100000
