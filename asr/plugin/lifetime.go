package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin/runner"
)

// A plugin process must not outlive mrcpd, however mrcpd ends (kill -9 included: issue 12). Two
// mechanisms, either of which suffices:
//
//   - The lifeline: a pipe whose write end only the host holds. The plugin gets the read end
//     (its descriptor number in EnvLifeline) and exits when it reads end of file, which the kernel
//     delivers when the last holder of the write end is gone: the host process, whatever killed it.
//   - The parent-death signal (Linux): SIGKILL when the thread that forked the plugin ends. Go
//     ends a thread when a goroutine locked to it returns, so forks run on spawner, a goroutine
//     that stays locked to its thread while any plugin process it started lives.

// EnvLifeline names the plugin's inherited descriptor of its lifeline (see Serve).
const EnvLifeline = "MRCPD_PLUGIN_LIFELINE"

// lifelineFD is where the read end lands in the child: ExtraFiles[0] is descriptor 3.
const lifelineFD = 3

// procRunner is go-plugin's runner.Runner for our plugin processes: go-plugin's own command
// runner, plus the lifeline and the fork on the spawner thread.
type procRunner struct {
	cmd            *exec.Cmd
	stdout, stderr io.ReadCloser
	lifeline       *os.File // write end; closed when the process has exited
	release        func()   // the process's hold on the spawner thread
	waitOnce       sync.Once
	waitErr        error
}

var _ runner.Runner = (*procRunner)(nil)

// newProcRunner prepares cmd to run under go-plugin: env is what go-plugin put in its spec
// command (its handshake variables and the host environment).
func newProcRunner(cmd *exec.Cmd, env []string) (*procRunner, error) {
	cmd.Env = append(env, cmd.Env...)
	cmd.Env = append(cmd.Env, EnvLifeline+"="+strconv.Itoa(lifelineFD))
	setParentDeathSignal(cmd)
	r := &procRunner{cmd: cmd}
	var err error
	if r.stdout, err = cmd.StdoutPipe(); err != nil {
		return nil, err
	}
	if r.stderr, err = cmd.StderrPipe(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *procRunner) Start(context.Context) error {
	rd, wr, err := os.Pipe() // close-on-exec: no other child inherits the write end
	if err != nil {
		return fmt.Errorf("plugin lifeline: %w", err)
	}
	r.cmd.ExtraFiles = []*os.File{rd}
	r.release, err = spawn(r.cmd.Start)
	rd.Close() // the child has its copy
	if err != nil {
		wr.Close()
		return err
	}
	r.lifeline = wr
	return nil
}

func (r *procRunner) Wait(context.Context) error {
	r.waitOnce.Do(func() {
		r.waitErr = r.cmd.Wait()
		r.lifeline.Close()
		r.release()
	})
	return r.waitErr
}

func (r *procRunner) Kill(context.Context) error {
	if r.cmd.Process == nil {
		return nil
	}
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

func (r *procRunner) Stdout() io.ReadCloser           { return r.stdout }
func (r *procRunner) Stderr() io.ReadCloser           { return r.stderr }
func (r *procRunner) Name() string                    { return r.cmd.Path }
func (r *procRunner) Diagnose(context.Context) string { return "" }

func (r *procRunner) ID() string {
	if r.cmd.Process == nil {
		return ""
	}
	return strconv.Itoa(r.cmd.Process.Pid)
}

func (r *procRunner) PluginToHost(n, a string) (string, string, error) { return n, a, nil }
func (r *procRunner) HostToPlugin(n, a string) (string, string, error) { return n, a, nil }

// runnerFunc is the ClientConfig.RunnerFunc that runs cmd; *run is set to its runner.
func runnerFunc(cmd *exec.Cmd, run **procRunner) func(hclog.Logger, *exec.Cmd, string) (runner.Runner, error) {
	return func(_ hclog.Logger, spec *exec.Cmd, _ string) (runner.Runner, error) {
		r, err := newProcRunner(cmd, spec.Env)
		*run = r
		return r, err
	}
}

// The spawner: one goroutine locked to its thread, alive while it has processes to answer for.
var spawner struct {
	mu   sync.Mutex
	live int
	reqs chan func()
}

// spawn runs start on the spawner thread; release must be called once the process has exited.
func spawn(start func() error) (release func(), err error) {
	spawner.mu.Lock()
	if spawner.live == 0 {
		spawner.reqs = make(chan func())
		go spawnLoop(spawner.reqs)
	}
	spawner.live++
	reqs := spawner.reqs
	spawner.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			spawner.mu.Lock()
			if spawner.live--; spawner.live == 0 {
				close(spawner.reqs)
			}
			spawner.mu.Unlock()
		})
	}
	done := make(chan error, 1)
	reqs <- func() { done <- start() }
	if err := <-done; err != nil {
		release()
		return nil, err
	}
	return release, nil
}

// spawnLoop returns still locked, so that its thread ends with it: no process it started is
// left by then.
func spawnLoop(reqs chan func()) {
	runtime.LockOSThread()
	for f := range reqs {
		f()
	}
}

// watchLifeline, in a plugin process, exits when the host's end of the lifeline closes: the
// host died, or stopped this process and is past waiting for it.
func watchLifeline(log *slog.Logger) {
	v := os.Getenv(EnvLifeline)
	if v == "" {
		return // started by something other than mrcpd's host (a test, by hand)
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		log.Warn("ignoring malformed "+EnvLifeline, "value", v)
		return
	}
	f := os.NewFile(uintptr(fd), "lifeline")
	go func() {
		_, _ = io.Copy(io.Discard, f)
		log.Warn("mrcpd is gone: plugin exiting")
		os.Exit(3)
	}()
}
