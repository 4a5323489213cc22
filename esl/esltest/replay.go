package esltest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"sync"
)

// Transcript is a recorded inbound session: what FreeSWITCH sent before the
// first command, then each client command with the bytes FreeSWITCH sent after it.
type Transcript struct {
	Greeting []byte
	Steps    []Step
}

// Step is one client command and FreeSWITCH's recorded bytes that followed it.
type Step struct {
	Command  string
	Response []byte
}

// ParseTranscript reads the fixture format: ">>> <command>\n\n" marks, possibly
// in the middle of a line (after a JSON event, which has no trailing newline),
// where the client sent a command; everything else is FreeSWITCH's bytes.
func ParseTranscript(data []byte) (*Transcript, error) {
	marker := []byte(">>> ")
	first := bytes.Index(data, marker)
	if first < 0 {
		return nil, fmt.Errorf("esltest: transcript has no commands")
	}
	t := &Transcript{Greeting: data[:first]}
	rest := data[first:]
	for len(rest) > 0 {
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 || nl+1 >= len(rest) || rest[nl+1] != '\n' {
			return nil, fmt.Errorf("esltest: command mark without its blank line")
		}
		cmd := string(rest[len(marker):nl])
		body := rest[nl+2:]
		next := bytes.Index(body, marker)
		if next < 0 {
			next = len(body)
		}
		t.Steps = append(t.Steps, Step{Command: cmd, Response: body[:next]})
		rest = body[next:]
	}
	return t, nil
}

// ServerBytes is everything FreeSWITCH sent, in order.
func (t *Transcript) ServerBytes() []byte {
	b := append([]byte(nil), t.Greeting...)
	for _, s := range t.Steps {
		b = append(b, s.Response...)
	}
	return b
}

// Replay serves a transcript to one client: greeting, then each step's bytes
// after the matching command. A command that differs from the recording is an
// error reported by Wait.
type Replay struct {
	ln   net.Listener
	t    *Transcript
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
	seen []string
}

// StartReplay listens on a loopback port and serves one connection.
func StartReplay(t *Transcript) (*Replay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Replay{ln: ln, t: t}
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

// Addr is host:port to dial.
func (r *Replay) Addr() string { return r.ln.Addr().String() }

// Wait returns once the connection ended, with the first mismatch if any, and
// the commands received.
func (r *Replay) Wait() ([]string, error) {
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen, r.err
}

// Close stops the listener (and a connection in progress).
func (r *Replay) Close() {
	_ = r.ln.Close()
	r.wg.Wait()
}

func (r *Replay) fail(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
}

func (r *Replay) serve() {
	defer r.wg.Done()
	nc, err := r.ln.Accept()
	if err != nil {
		return
	}
	_ = r.ln.Close()
	defer nc.Close()
	if _, err := nc.Write(r.t.Greeting); err != nil {
		r.fail(err)
		return
	}
	br := bufio.NewReader(nc)
	for i, step := range r.t.Steps {
		cmd, err := ReadCommand(br)
		if err != nil {
			r.fail(fmt.Errorf("step %d: reading command: %w", i, err))
			return
		}
		r.mu.Lock()
		r.seen = append(r.seen, cmd.Line)
		r.mu.Unlock()
		if cmd.Line != step.Command {
			r.fail(fmt.Errorf("step %d: got command %q, recording has %q", i, cmd.Line, step.Command))
			return
		}
		if _, err := nc.Write(step.Response); err != nil {
			r.fail(err)
			return
		}
	}
}
