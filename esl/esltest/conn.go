package esltest

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/mrcpd/mrcpd/esl"
)

// fconn is one client connection. Everything written to it goes through one
// queue so replies and events leave in the order the fake produced them.
type fconn struct {
	s      *Server
	nc     net.Conn
	notify chan struct{}
	done   chan struct{}

	// guarded by s.mu
	authed   bool
	format   string
	all      bool
	events   map[string]bool
	filters  [][2]string
	logLevel int
	myevents string
	outbound string // the channel an outbound (socket application) connection serves
	linger   bool

	qmu    sync.Mutex
	q      [][]byte
	closed bool
	bye    bool // close after the queue drains
}

func (c *fconn) enqueue(b []byte) {
	c.qmu.Lock()
	if !c.closed {
		c.q = append(c.q, b)
	}
	c.qmu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *fconn) closeAfterFlush() {
	c.qmu.Lock()
	c.bye = true
	c.qmu.Unlock()
	c.enqueue(nil)
}

func (c *fconn) close() {
	c.qmu.Lock()
	if c.closed {
		c.qmu.Unlock()
		return
	}
	c.closed = true
	c.q = nil
	c.qmu.Unlock()
	_ = c.nc.Close()
	close(c.done)
	c.s.mu.Lock()
	delete(c.s.conns, c)
	c.s.mu.Unlock()
}

func (c *fconn) writeLoop() {
	defer c.s.wg.Done()
	for {
		c.qmu.Lock()
		q := c.q
		c.q = nil
		bye := c.bye
		c.qmu.Unlock()
		for _, b := range q {
			if len(b) == 0 {
				continue
			}
			if _, err := c.nc.Write(b); err != nil {
				c.close()
				return
			}
		}
		if bye && len(q) > 0 {
			c.close()
			return
		}
		select {
		case <-c.notify:
		case <-c.done:
			return
		}
	}
}

func (c *fconn) readLoop() {
	defer c.s.wg.Done()
	if c.outbound == "" { // the socket application's connections skip auth
		c.enqueue(AuthRequest())
	}
	br := bufio.NewReader(c.nc)
	for {
		cmd, err := ReadCommand(br)
		if err != nil {
			c.close()
			return
		}
		s := c.s
		s.mu.Lock()
		drop := s.dropOn != nil && s.dropOn(cmd.Line)
		if drop {
			s.dropOn = nil
		}
		stalled := s.stalled
		s.mu.Unlock()
		if drop {
			s.DropConnections()
			return
		}
		if stalled {
			continue
		}
		if !c.handle(cmd) {
			// The writer closes once the goodbye is flushed.
			<-c.done
			return
		}
	}
}

// handle answers one command; false ends the connection.
func (c *fconn) handle(cmd *Command) bool {
	s := c.s
	verb, rest, _ := strings.Cut(cmd.Line, " ")
	s.mu.Lock()
	authed := c.authed
	s.mu.Unlock()
	if !authed {
		if verb != "auth" {
			c.enqueue(Reply("-ERR command not found"))
			return true
		}
		if rest != s.opts.Password {
			c.enqueue(Reply("-ERR invalid"))
			c.enqueue(DisconnectNotice())
			c.closeAfterFlush()
			return false
		}
		s.mu.Lock()
		c.authed = true
		s.mu.Unlock()
		c.enqueue(Reply("+OK accepted"))
		return true
	}
	switch verb {
	case "event":
		c.subscribe(rest)
	case "noevents":
		s.mu.Lock()
		c.format, c.all, c.events = "", false, nil
		s.mu.Unlock()
		c.enqueue(Reply("+OK no longer listening for events"))
	case "filter":
		h, v, _ := strings.Cut(rest, " ")
		s.mu.Lock()
		c.filters = append(c.filters, [2]string{h, v})
		s.mu.Unlock()
		c.enqueue(Reply(fmt.Sprintf("+OK filter added. [%s]=[%s]", h, v)))
	case "log":
		lvl := 7
		_, _ = fmt.Sscanf(rest, "%d", &lvl)
		s.mu.Lock()
		c.logLevel = lvl
		s.mu.Unlock()
		c.enqueue(Reply(fmt.Sprintf("+OK log level %s [%d]", rest, lvl)))
	case "nolog":
		s.mu.Lock()
		c.logLevel = -1
		s.mu.Unlock()
		c.enqueue(Reply("+OK no longer logging"))
	case "connect":
		c.enqueue(c.connectReply())
	case "myevents":
		s.mu.Lock()
		c.format, c.all, c.myevents = "plain", true, c.outbound
		if f := strings.Fields(rest); len(f) > 0 && (f[0] == "json" || f[0] == "plain") {
			c.format = f[0]
		}
		s.mu.Unlock()
		c.enqueue(Reply("+OK Events Enabled"))
	case "linger":
		s.mu.Lock()
		c.linger = true
		s.mu.Unlock()
		c.enqueue(Reply("+OK will linger"))
	case "nolinger":
		s.mu.Lock()
		c.linger = false
		s.mu.Unlock()
		c.enqueue(Reply("+OK will not linger"))
	case "api":
		body, after := s.api(rest, s.opts.Clock.Now())
		c.enqueue(APIResponse(body))
		if after != nil {
			after()
		}
	case "bgapi":
		c.bgapi(rest, cmd.Get("Job-UUID"), s.opts.Clock.Now())
	case "sendmsg":
		s.sendmsg(c, rest, cmd)
	case "exit":
		c.enqueue(Reply("+OK bye"))
		c.enqueue(DisconnectNotice())
		c.closeAfterFlush()
		return false
	default:
		c.enqueue(Reply("-ERR command not found"))
	}
	return true
}

func (c *fconn) subscribe(rest string) {
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		c.enqueue(Reply("-ERR invalid format"))
		return
	}
	format := fields[0]
	if format != "plain" && format != "json" && format != "xml" {
		c.enqueue(Reply("-ERR invalid format"))
		return
	}
	s := c.s
	s.mu.Lock()
	c.format = format
	if c.events == nil {
		c.events = map[string]bool{}
	}
	for _, f := range fields[1:] {
		if f == "ALL" {
			c.all = true
		}
		c.events[f] = true
	}
	s.mu.Unlock()
	c.enqueue(Reply("+OK event listener enabled " + format))
}

// wants reports whether an event passes this connection's subscription and
// filters (mod_event_socket: any matching filter lets it through). s.mu held.
func (c *fconn) wants(name string, hs []esl.Header) bool {
	if c.format == "" || (!c.all && !c.events[name]) {
		return false
	}
	if c.myevents != "" && headerValue(hs, "Unique-ID") != c.myevents {
		return false
	}
	if len(c.filters) == 0 {
		return true
	}
	for _, f := range c.filters {
		if headerValue(hs, f[0]) == f[1] {
			return true
		}
	}
	return false
}

func headerValue(hs []esl.Header, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

func (c *fconn) bgapi(rest, jobUUID string, received time.Time) {
	if jobUUID == "" {
		jobUUID = esl.NewUUID()
	}
	c.enqueue(Reply("+OK Job-UUID: "+jobUUID, esl.Header{Name: "Job-UUID", Value: jobUUID}))
	body, after := c.s.api(rest, received)
	if after != nil {
		after()
	}
	cmd, arg, _ := strings.Cut(rest, " ")
	c.s.emit(esl.EventBackgroundJob, c.s.opts.Clock.Now(), "api_exec", []esl.Header{
		{Name: "Job-UUID", Value: jobUUID},
		{Name: "Job-Command", Value: cmd},
		{Name: "Job-Command-Arg", Value: arg},
	}, body)
}
