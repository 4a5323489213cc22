package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mrcpd/mrcpd/asr"
	pb "github.com/mrcpd/mrcpd/asr/pluginpb"
)

// HostConfig starts one plugin binary as Pool processes.
type HostConfig struct {
	Name     string            // the config name; logs and metrics
	Path     string            // the plugin binary
	Args     []string          // its arguments
	Pool     int               // processes; < 1 means 1. Single-threaded engines scale by processes
	Settings map[string]string // passed to the process as JSON in $MRCPD_PLUGIN_SETTINGS
	Env      []string          // extra environment, KEY=VALUE
	Logger   *slog.Logger

	// FlushInterval is how often the inputs of all of a process's streams cross in one message
	// (default 30 ms): the longest an audio frame waits to cross, below the 40 ms budget.
	FlushInterval time.Duration
	// ReadyTimeout bounds the wait for a stream's first event (default 5 s; a queue behind a single-threaded engine counts). PingInterval and
	// PingTimeout are the process liveness probe (defaults 250 ms and 500 ms): a process that
	// leaves PingMisses pings in a row unanswered is killed, its streams fail with
	// ErrUnavailable, and it is restarted.
	ReadyTimeout, PingInterval, PingTimeout time.Duration
	// PingMisses (default 2): one late answer is what a busy machine does now and then, and
	// killing a process fails every call on it; a hung process misses every ping.
	PingMisses int
	// MinBackoff and MaxBackoff bound the restart delay, which doubles per failed start and resets
	// after a process has run for 10 s (defaults 100 ms and 10 s).
	MinBackoff, MaxBackoff time.Duration
	// OnRestart, if set, is called each time a process is restarted (metrics).
	OnRestart func()
	// StartTimeout bounds a process's handshake (default 10 s).
	StartTimeout time.Duration

	waitHook func(time.Duration) // benchmarks: how long each batch's oldest input waited
}

func (c *HostConfig) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.FlushInterval, 30*time.Millisecond)
	def(&c.ReadyTimeout, 5*time.Second)
	def(&c.PingInterval, 250*time.Millisecond)
	def(&c.PingTimeout, 500*time.Millisecond)
	if c.PingMisses < 1 {
		c.PingMisses = 2
	}
	def(&c.MinBackoff, 100*time.Millisecond)
	def(&c.MaxBackoff, 10*time.Second)
	def(&c.StartTimeout, 10*time.Second)
	if c.Pool < 1 {
		c.Pool = 1
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Host runs a plugin binary's processes and proxies the asr interfaces to them.
type Host struct {
	cfg       HostConfig
	ctx       context.Context
	cancel    context.CancelFunc
	instances []*instance
	wg        sync.WaitGroup
	rr        uint64
	rrMu      sync.Mutex
	rec       *hostRecognizer
	syn       *hostSynthesizer
	hasRec    bool // what the plugin served at Start
	hasSyn    bool
}

// Start launches the plugin's processes and waits until every one has answered the handshake
// and Info, so that a bad path or a plugin that cannot start fails mrcpd at startup. From then
// on processes are supervised until Close: a crashed or hung process is restarted with backoff.
func Start(ctx context.Context, cfg HostConfig) (*Host, error) {
	cfg.defaults()
	if _, err := os.Stat(cfg.Path); err != nil {
		return nil, fmt.Errorf("plugin %s: %w", cfg.Name, err)
	}
	hctx, cancel := context.WithCancel(context.Background())
	h := &Host{cfg: cfg, ctx: hctx, cancel: cancel}
	h.rec = &hostRecognizer{h: h}
	h.syn = &hostSynthesizer{h: h}
	for i := 0; i < cfg.Pool; i++ {
		in := &instance{h: h, id: i, log: cfg.Logger.With("plugin", cfg.Name, "proc", i)}
		h.instances = append(h.instances, in)
		g, err := in.launch(ctx)
		if err != nil {
			cancel()
			h.Close()
			return nil, err
		}
		in.setGen(g)
		h.hasRec, h.hasSyn = g.recInfo != nil, g.synInfo != nil
	}
	for _, in := range h.instances {
		h.wg.Add(1)
		go in.supervise()
	}
	return h, nil
}

// Recognizer is the plugin's recognizer, or nil when the plugin serves none.
func (h *Host) Recognizer() asr.Recognizer {
	if !h.hasRec {
		return nil
	}
	return h.rec
}

// Synthesizer is the plugin's synthesizer, or nil when the plugin serves none.
func (h *Host) Synthesizer() asr.Synthesizer {
	if !h.hasSyn {
		return nil
	}
	return h.syn
}

// Close stops supervision and every process; streams in flight fail with ErrUnavailable.
func (h *Host) Close() error {
	for _, in := range h.instances {
		if g := in.current(); g != nil {
			g.cancel(asr.Errorf(asr.ErrUnavailable, true, "plugin %s is shutting down", h.cfg.Name))
		}
	}
	h.cancel()
	h.wg.Wait()
	for _, in := range h.instances {
		if g := in.current(); g != nil {
			g.stop()
		}
	}
	return nil
}

// pick chooses the least busy live process, round-robin among equals.
func (h *Host) pick() (*gen, error) {
	h.rrMu.Lock()
	start := h.rr
	h.rr++
	h.rrMu.Unlock()
	var best *gen
	bestLoad := int64(-1)
	n := uint64(len(h.instances))
	for i := uint64(0); i < n; i++ {
		g := h.instances[(start+i)%n].current()
		if g == nil || g.ctx.Err() != nil {
			continue
		}
		if l := g.load(); best == nil || l < bestLoad {
			best, bestLoad = g, l
		}
	}
	if best == nil {
		return nil, asr.Errorf(asr.ErrUnavailable, true, "plugin %s: no process running (restarting)", h.cfg.Name)
	}
	return best, nil
}

// gen is one process's lifetime. Its ctx is cancelled when the process dies or stops answering;
// every stream opened on it is cancelled with it.
type gen struct {
	ctx     context.Context
	cancel  context.CancelCauseFunc
	client  *goplugin.Client
	cmd     *exec.Cmd
	run     *procRunner
	cl      *clients
	recInfo *asr.RecognizerInfo
	synInfo *asr.SynthesizerInfo
	mu      sync.Mutex
	active  int64
	started time.Time
	sess    *session
	nextID  atomic.Uint64
	muxDone chan struct{} // closed when the session's goroutines have ended
	// stopping is set before stop kills the process (slogWriter then logs its exit as a stop).
	stopping *atomic.Bool
	// closeConn ends an in-process test connection (NewTestHost), which has no client or cmd.
	closeConn func()
}

func (g *gen) load() int64 { g.mu.Lock(); defer g.mu.Unlock(); return g.active }
func (g *gen) add(d int64) { g.mu.Lock(); g.active += d; g.mu.Unlock() }

func (g *gen) stop() {
	g.cancel(asr.Errorf(asr.ErrUnavailable, true, "plugin process stopped"))
	if g.stopping != nil {
		g.stopping.Store(true)
	}
	// A hung process ignores the graceful shutdown go-plugin tries first; kill it outright.
	if g.cmd != nil && g.cmd.Process != nil {
		_ = g.cmd.Process.Kill()
	}
	if g.client != nil {
		g.client.Kill()
	}
	if g.closeConn != nil {
		g.closeConn()
	}
	<-g.muxDone
}

type instance struct {
	h   *Host
	id  int
	log *slog.Logger
	mu  sync.Mutex
	g   *gen
}

func (in *instance) current() *gen { in.mu.Lock(); defer in.mu.Unlock(); return in.g }
func (in *instance) setGen(g *gen) { in.mu.Lock(); in.g = g; in.mu.Unlock() }

func (in *instance) launch(ctx context.Context) (*gen, error) {
	cfg := in.h.cfg
	settings, err := json.Marshal(cfg.Settings)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(cfg.Path, cfg.Args...)
	// go-plugin adds the host's environment and its handshake variables (procRunner).
	cmd.Env = append(cmd.Env, cfg.Env...)
	cmd.Env = append(cmd.Env, EnvSettings+"="+string(settings), EnvName+"="+cfg.Name)
	stopping := new(atomic.Bool)
	var run *procRunner
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  goplugin.HandshakeConfig{MagicCookieKey: Handshake.MagicCookieKey, MagicCookieValue: Handshake.MagicCookieValue},
		VersionedPlugins: pluginSets(ServeConfig{}),
		RunnerFunc:       runnerFunc(cmd, &run),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		GRPCDialOptions:  dialOptions(),
		StartTimeout:     cfg.StartTimeout,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: "plugin", Output: slogWriter{log: in.log, stopping: stopping}, Level: hclog.Info, JSONFormat: true,
		}),
	})
	fail := func(err error) (*gen, error) {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
		}
		client.Kill()
		return nil, fmt.Errorf("plugin %s (%s): %w", cfg.Name, cfg.Path, err)
	}
	proto, err := client.Client()
	if err != nil {
		return fail(err)
	}
	raw, err := proto.Dispense(pluginName)
	if err != nil {
		return fail(err)
	}
	g := &gen{client: client, cmd: cmd, run: run, cl: raw.(*clients), started: time.Now(), stopping: stopping}
	if err := in.h.attach(ctx, g); err != nil {
		return fail(err)
	}
	in.log.Info("plugin process started", "pid", cmd.Process.Pid)
	return g, nil
}

// supervise probes the current process and replaces it when it dies or stops answering.
func (in *instance) supervise() {
	defer in.h.wg.Done()
	cfg := in.h.cfg
	backoff := cfg.MinBackoff
	for {
		g := in.current()
		if g != nil {
			reason := in.watch(g)
			if in.h.ctx.Err() != nil {
				return
			}
			in.log.Warn("plugin process lost; restarting", "reason", reason, "backoff", backoff)
			g.stop()
			if time.Since(g.started) > 10*time.Second {
				backoff = cfg.MinBackoff
			}
		}
		select {
		case <-in.h.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, cfg.MaxBackoff)
		ng, err := in.launch(in.h.ctx)
		if err != nil {
			in.log.Error("plugin restart failed", "err", err)
			in.setGen(nil)
			continue
		}
		in.setGen(ng)
		if cfg.OnRestart != nil {
			cfg.OnRestart()
		}
	}
}

// watch returns when g's process has exited or failed a ping, or the host is closing.
func (in *instance) watch(g *gen) string {
	cfg := in.h.cfg
	t := time.NewTicker(cfg.PingInterval)
	defer t.Stop()
	missed := 0
	for {
		select {
		case <-in.h.ctx.Done():
			return "host closing"
		case <-g.ctx.Done():
			return context.Cause(g.ctx).Error()
		case <-t.C:
		}
		if g.client.Exited() {
			g.cancel(asr.Errorf(asr.ErrUnavailable, true, "plugin process exited"))
			return "exited"
		}
		pctx, cancel := context.WithTimeout(g.ctx, cfg.PingTimeout)
		_, err := g.cl.ctrl.Ping(pctx, &pb.PingRequest{})
		cancel()
		if err == nil || in.h.ctx.Err() != nil {
			missed = 0
			continue
		}
		if missed++; missed < cfg.PingMisses {
			in.log.Warn("plugin process late answering a ping", "err", err, "missed", missed)
			continue
		}
		g.cancel(asr.Errorf(asr.ErrUnavailable, true, "plugin process not answering: %v", err))
		return "ping: " + err.Error()
	}
}

// PIDs lists the running processes, for operations and for crash tests.
func (h *Host) PIDs() []int {
	var pids []int
	for _, in := range h.instances {
		if g := in.current(); g != nil && g.cmd != nil && g.cmd.Process != nil && g.ctx.Err() == nil {
			pids = append(pids, g.cmd.Process.Pid)
		}
	}
	return pids
}

// attach asks a new connection what it serves and opens its recognition multiplex.
func (h *Host) attach(ctx context.Context, g *gen) (err error) {
	cfg := h.cfg
	g.ctx, g.cancel = context.WithCancelCause(h.ctx)
	defer func() {
		if err != nil {
			g.cancel(err)
		}
	}()
	ictx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	if ri, err := g.cl.rec.Info(ictx, &pb.InfoRequest{}); err == nil {
		info := recInfoFromPB(ri)
		g.recInfo = &info
	} else if status.Code(err) != codes.Unimplemented {
		return fmt.Errorf("recognizer info: %w", fromRPC(ictx, err))
	}
	if si, err := g.cl.syn.Info(ictx, &pb.InfoRequest{}); err == nil {
		info := synInfoFromPB(si)
		g.synInfo = &info
	} else if status.Code(err) != codes.Unimplemented {
		return fmt.Errorf("synthesizer info: %w", fromRPC(ictx, err))
	}
	if g.recInfo == nil && g.synInfo == nil {
		return errors.New("serves neither a recognizer nor a synthesizer")
	}
	g.muxDone = make(chan struct{})
	if g.recInfo == nil {
		close(g.muxDone)
		return nil
	}
	rpc, err := g.cl.rec.Streams(g.ctx)
	if err != nil {
		return fmt.Errorf("streams: %w", fromRPC(g.ctx, err))
	}
	fail := func(err error) { g.cancel(err) }
	g.sess = &session{streams: map[uint64]*recStream{}, mux: newMux(rpc.Send, cfg.FlushInterval, fail, cfg.waitHook)}
	g.sess.mux.setKeepAlive(g.recInfo.IdleTimeout)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		g.sess.mux.run(g.ctx.Done())
	}()
	go func() {
		defer wg.Done()
		g.sess.recvLoop(rpc, fail)
	}()
	go func() {
		wg.Wait()
		close(g.muxDone)
	}()
	return nil
}
