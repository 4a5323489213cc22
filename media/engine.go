package media

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/mrcpd/mrcpd/asr/clock"
)

// This file is the media engine's contract with the session layer (mrcp/server): the session opens
// a Stream per audio m-line, installs Taps while a resource consumes input, writes synthesized audio
// to the stream's Output and receives Events. Everything per packet and per frame runs on the
// engine's workers; the session sees events only.

// Streams opens the media side of sessions; *Engine implements it, session tests fake it.
type Streams interface {
	// Formats are the codecs accepted, preference first, telephone-event last.
	Formats() []Format
	// Listen reserves the RTP port of an m-line, before negotiation ends; remote is the offer's RTP
	// address (nil when it names none).
	Listen(remote net.Addr) (net.PacketConn, error)
	// Open starts the stream on a port from Listen. The stream owns conn from then on.
	Open(conn net.PacketConn, cfg StreamConfig) (Stream, error)
}

// Stream is one RTP stream (one audio m-line) running on a worker.
type Stream interface {
	// AddTap installs t: from the next frame on, its writer gets the stream's audio. RemoveTap returns
	// once the worker can no longer call t's writer or events.
	AddTap(t *Tap)
	RemoveTap(t *Tap)
	// LastPacket is when the last valid RTP packet arrived (zero if none), for media timeouts.
	LastPacket() time.Time
	Stats() JitterStats
	// Output is the paced send side, nil for a stream that does not send.
	Output() Output
	// Close stops the stream and releases its sockets; it is safe to call more than once.
	Close() error
	String() string
}

// Output is the send side of a Stream (a *Sender paced by the stream's worker).
type Output interface {
	Write(pcm []int16) error
	// End marks the end of an utterance; the channel closes after its last packet left.
	End() <-chan struct{}
	Flush()
	Pause()
	Resume()
}

// StreamConfig is what the session knows after negotiation.
type StreamConfig struct {
	Receive, Send  bool
	Remote         net.Addr
	Format         Format
	TelephoneEvent *Format
	Ptime          time.Duration
	InputRate      int // PCM rate taps receive
	OutputRate     int // PCM rate Output.Write takes
	// SRTP, when set, protects the stream with the keys of the offer's a=crypto (RTP/SAVP); nil is
	// plain RTP/AVP.
	SRTP *SRTPKeys
	// Events receives the stream's DTMF digits (RFC 4733 or in-band), from the worker.
	Events EventSink
	Logger *slog.Logger
}

// Writer takes a stream's frames (20 ms at the stream's InputRate) on the worker: it must not block,
// and pcm is valid only during the call.
type Writer interface {
	WriteFrame(pcm []int16)
}

// EventSink receives events on the worker: it must not block (a session queues them for its loop).
type EventSink interface {
	MediaEvent(ev Event)
}

// EventKind says what an Event reports.
type EventKind uint8

const (
	EventDigit EventKind = iota + 1
	EventSpeechStart
	EventSpeechEnd
)

func (k EventKind) String() string {
	switch k {
	case EventDigit:
		return "digit"
	case EventSpeechStart:
		return "speech-start"
	case EventSpeechEnd:
		return "speech-end"
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// Event is a DTMF digit or a tap's speech start or end.
type Event struct {
	Kind  EventKind
	Digit rune
}

// Tap is one consumer of a stream's input (a RECOGNIZE's engine, a RECORD): frames go to Writer,
// and, with VAD set, its speech start and end go to Events. While the tap is installed its VAD and
// heard belong to the worker.
type Tap struct {
	Writer Writer
	VAD    Detector
	// CaptureOnSpeech holds frames back from Writer until the VAD first hears speech (Capture-On-Speech,
	// RFC 6787 §10.4.8).
	CaptureOnSpeech bool
	Events          EventSink

	heard bool
}

func (t *Tap) String() string {
	var parts []string
	if t.VAD != nil {
		parts = append(parts, "VAD")
	}
	if t.Writer != nil {
		w := "Writer"
		if t.CaptureOnSpeech {
			w += "(on speech)"
		}
		parts = append(parts, w)
	}
	return "Tap(" + strings.Join(parts, " -> ") + ")"
}

// Frame runs one frame through the tap, as the worker does (and as fakes of Stream do): VAD first,
// so that a writer capturing on speech gets the frame that started it.
func (t *Tap) Frame(pcm []int16) {
	if t.VAD != nil {
		switch t.VAD.Process(pcm) {
		case SpeechStart:
			t.heard = true
			t.emit(Event{Kind: EventSpeechStart})
		case SpeechEnd:
			t.emit(Event{Kind: EventSpeechEnd})
		}
	}
	if t.Writer != nil && (!t.CaptureOnSpeech || t.heard) {
		t.Writer.WriteFrame(pcm)
	}
}

func (t *Tap) emit(ev Event) {
	if t.Events != nil {
		t.Events.MediaEvent(ev)
	}
}

// EngineConfig configures an Engine; zero values get defaults.
type EngineConfig struct {
	// Workers is the number of media workers (default GOMAXPROCS): each runs its share of the streams
	// on one shared 20 ms tick.
	Workers    int
	Jitter     JitterConfig
	InbandDTMF bool
	// Symmetric latches the send side onto the source of received RTP (callers behind NAT).
	Symmetric bool
	// SharedPort, when set, puts every stream's RTP on one socket per worker instead of a port
	// of the pool each: worker i uses SharedPort+2i, and the port above for RTCP (sharedPort).
	SharedPort int
	// Codecs restricts and orders the codecs offered by name (PCMU, PCMA, L16...); empty keeps
	// SupportedFormats.
	Codecs []string
	Clock  clock.Clock
	Logger *slog.Logger
}

// Engine runs every stream of the process on a fixed set of workers. It has no goroutine per stream:
// goroutines grow with workers, not sessions.
type Engine struct {
	cfg     EngineConfig
	pool    *PortPool
	clock   clock.Clock
	log     *slog.Logger
	workers []*worker
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	closed  bool
}

// NewEngine starts the workers; Close stops them.
func NewEngine(pool *PortPool, cfg EngineConfig) (*Engine, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	e := &Engine{cfg: cfg, pool: pool, clock: clock.Or(cfg.Clock), log: cfg.Logger}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	for i := 0; i < cfg.Workers; i++ {
		w, err := newWorker(e)
		if err != nil {
			cancel()
			e.wg.Wait()
			for _, w := range e.workers {
				w.closeFD()
			}
			return nil, err
		}
		e.workers = append(e.workers, w)
		if cfg.SharedPort > 0 {
			if err := e.shareWorker(w, cfg.SharedPort+2*i); err != nil {
				for _, w := range e.workers {
					w.closeFD()
				}
				cancel()
				return nil, err
			}
		}
	}
	for _, w := range e.workers {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			w.run(ctx)
		}()
	}
	return e, nil
}

func (e *Engine) shareWorker(w *worker, port int) error {
	ip, ok := netip.AddrFromSlice(e.pool.ip)
	if !ok {
		return fmt.Errorf("media: bad RTP address %s", e.pool.ip)
	}
	p, err := openSharedPort(ip.Unmap(), port)
	if err != nil {
		return err
	}
	if err := w.share(p); err != nil {
		p.close()
		return err
	}
	return nil
}

func (e *Engine) String() string {
	if e.cfg.SharedPort > 0 {
		return fmt.Sprintf("Engine(%d workers, tick %s, shared RTP ports %d-%d)", len(e.workers), FrameDuration,
			e.cfg.SharedPort, e.cfg.SharedPort+2*len(e.workers)-1)
	}
	return fmt.Sprintf("Engine(%d workers, tick %s, %s)", len(e.workers), FrameDuration, e.pool)
}

// Close stops the workers; streams still open stop being served (their sessions close them).
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
	for _, w := range e.workers {
		w.closeFD()
	}
	return nil
}

// Formats lists the codecs offered, restricted and ordered by EngineConfig.Codecs.
func (e *Engine) Formats() []Format {
	all := SupportedFormats()
	if len(e.cfg.Codecs) == 0 {
		return all
	}
	var out []Format
	for _, name := range e.cfg.Codecs {
		for _, f := range all {
			if strings.EqualFold(f.Name, name) && !f.IsTelephoneEvent() {
				out = append(out, f)
			}
		}
	}
	for _, f := range all {
		if f.IsTelephoneEvent() {
			out = append(out, f)
		}
	}
	return out
}

// Listen binds the next RTP port of the pool, or, with a shared port, reserves a place on the
// worker that has the fewest streams among those where remote is nobody else's source. A remote
// that is unusable, or another stream's source on every worker, gets a port of the pool: packets
// on a shared port are told apart by their source alone.
func (e *Engine) Listen(remote net.Addr) (net.PacketConn, error) {
	if e.cfg.SharedPort > 0 {
		if c := e.listenShared(remote); c != nil {
			return c, nil
		}
	}
	return e.pool.Open()
}

// Open builds the stream's stages and hands it to the least loaded worker (with a shared port,
// to the worker Listen chose).
func (e *Engine) Open(conn net.PacketConn, cfg StreamConfig) (Stream, error) {
	if c, ok := conn.(*sharedConn); ok {
		return e.openShared(c, cfg)
	}
	sock, ok := conn.(*Socket)
	if !ok {
		return nil, fmt.Errorf("media: Engine.Open needs a Socket from Listen, not %T", conn)
	}
	st, err := e.newStream(sock, cfg)
	if err != nil {
		return nil, err
	}
	var best *worker
	for _, w := range e.workers {
		if best == nil || w.load() < best.load() {
			best = w
		}
	}
	if err := best.add(st); err != nil {
		st.release()
		return nil, err
	}
	return st, nil
}
