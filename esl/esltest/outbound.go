package esltest

import (
	"fmt"
	"net"
	"strings"

	"github.com/mrcpd/mrcpd/esl"
)

// Outbound plays FreeSWITCH's `socket <addr> async full` application: it
// creates an inbound channel for dest (its Behavior applies: Says, DTMF type),
// connects to addr, and serves the commands that arrive there against that
// channel ("connect", "myevents", "linger", sendmsg, api). After the channel
// hangs up, a lingering connection gets the hangup events, then a
// disconnect notice with Content-Disposition: linger, then the close.
func (s *Server) Outbound(addr, dest string) (string, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	beh, ok := s.opts.Numbers[dest]
	if !ok {
		beh = s.opts.Default
	}
	if beh.DTMFType == "" {
		beh.DTMFType = "rfc2833"
	}
	uuid := esl.NewUUID()
	s.mu.Lock()
	s.sessionID++
	ch := &channel{s: s, uuid: uuid, name: "sofia/internal/1000@127.0.0.1", dest: dest, created: s.opts.Clock.Now(),
		beh: beh, inbound: true}
	ch.vars = []esl.Header{{Name: "uuid", Value: uuid}, {Name: "session_id", Value: fmt.Sprint(s.sessionID)},
		{Name: "dtmf_type", Value: beh.DTMFType}, {Name: "caller_id_name", Value: "Test Caller"},
		{Name: "caller_id_number", Value: "1000"}}
	s.channels[uuid] = ch
	if len(s.channels) > s.peak {
		s.peak = len(s.channels)
	}
	c := &fconn{s: s, nc: nc, notify: make(chan struct{}, 1), done: make(chan struct{}), logLevel: -1,
		authed: true, outbound: uuid}
	s.conns[c] = true
	s.accepted++
	s.mu.Unlock()
	ch.mu.Lock()
	ch.event(esl.EventChannelCreate, "switch_core_session_run")
	ch.mu.Unlock()
	s.wg.Add(2)
	go c.writeLoop()
	go c.readLoop()
	return uuid, nil
}

// connectReply is the channel data FreeSWITCH answers "connect" with.
func (c *fconn) connectReply() []byte {
	ch := c.s.channel(c.outbound)
	if ch == nil {
		return Reply("-ERR no channel")
	}
	ch.mu.Lock()
	hs := ch.headers()
	ch.mu.Unlock()
	var b strings.Builder
	b.WriteString("Event-Name: CHANNEL_DATA\n")
	for _, h := range hs {
		b.WriteString(h.Name + ": " + esl.URLEncode(h.Value) + "\n")
	}
	b.WriteString("Content-Type: command/reply\nReply-Text: +OK\nSocket-Mode: async\nControl: full\n\n")
	return []byte(b.String())
}

// lingerDone: the channel's last event went out to its outbound socket.
// s.mu held.
func (s *Server) lingerDone(uuid string) {
	for c := range s.conns {
		if c.outbound != uuid {
			continue
		}
		notice := "Content-Type: text/disconnect-notice\nController-Type: outbound\nChannel-Name: x\n"
		if c.linger {
			notice += "Content-Disposition: linger\n"
		} else {
			notice += "Content-Disposition: disconnect\n"
		}
		body := "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
		c.enqueue([]byte(notice + fmt.Sprintf("Content-Length: %d\n\n%s", len(body), body)))
		c.closeAfterFlush()
	}
}
