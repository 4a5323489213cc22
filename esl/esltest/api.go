package esltest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/esl"
)

// api runs an api command; after (if any) runs once the response is queued,
// so the events it causes follow the response as in FreeSWITCH.
// received is when the command arrived (FreeSWITCH counts sessions per second
// by arrival).
func (s *Server) api(line string, received time.Time) (string, func()) {
	cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	switch cmd {
	case "status":
		s.mu.Lock()
		n := len(s.channels)
		s.mu.Unlock()
		return fmt.Sprintf("UP 0 years, 0 days, 0 hours, 4 minutes, 42 seconds, 943 milliseconds, 288 microseconds\n"+
			"FreeSWITCH (Version 1.10.12-release esltest) is ready\n%d session(s) since startup\n%d session(s) - peak %d\n"+
			"%d session(s) per Sec out of max %d\n%d session(s) max\n",
			s.sessionID, n, s.PeakChannels(), 0, s.opts.MaxSPS, s.opts.MaxSessions), nil
	case "originate":
		return s.originate(arg, received)
	case "uuid_exists":
		s.mu.Lock()
		_, ok := s.channels[strings.TrimSpace(arg)]
		s.mu.Unlock()
		return fmt.Sprint(ok), nil
	case "uuid_kill":
		id, cause, _ := strings.Cut(arg, " ")
		ch := s.channel(id)
		if ch == nil {
			return "-ERR No such channel!\n", nil
		}
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		return "+OK\n", func() {
			ch.mu.Lock()
			ch.hangup(cause)
			ch.mu.Unlock()
		}
	case "uuid_getvar":
		id, name, _ := strings.Cut(arg, " ")
		ch := s.channel(id)
		if ch == nil {
			return "-ERR No such channel!\n", nil
		}
		ch.mu.Lock()
		defer ch.mu.Unlock()
		if v, ok := ch.getVar(strings.TrimSpace(name)); ok {
			return v, nil
		}
		return "_undef_", nil
	case "uuid_buglist":
		ch := s.channel(arg)
		if ch == nil {
			return "", nil // mod_commands answers an unknown uuid with nothing
		}
		ch.mu.Lock()
		defer ch.mu.Unlock()
		return ch.bugList(), nil
	case "uuid_setvar":
		// "<uuid> <var> [<value>]": no value unsets (mod_commands).
		f := strings.SplitN(strings.TrimSpace(arg), " ", 3)
		if len(f) < 2 {
			return "-USAGE: <uuid> <var> [value]\n", nil
		}
		ch := s.channel(f[0])
		if ch == nil {
			return "-ERR No such channel!\n", nil
		}
		ch.mu.Lock()
		defer ch.mu.Unlock()
		if len(f) == 2 {
			ch.unsetVar(f[1])
		} else {
			ch.setVar(f[1], f[2])
		}
		return "+OK\n", nil
	case "uuid_dump":
		id, _, _ := strings.Cut(arg, " ")
		ch := s.channel(id)
		if ch == nil {
			return "-ERR No such channel!\n", nil
		}
		ch.mu.Lock()
		m := map[string]string{}
		for _, h := range ch.headers() {
			m[h.Name] = h.Value
		}
		ch.mu.Unlock()
		b, _ := json.Marshal(m)
		return string(b), nil
	case "uuid_break":
		id, _, _ := strings.Cut(arg, " ")
		ch := s.channel(id)
		if ch == nil {
			return "-ERR No such channel!\n", nil
		}
		ch.mu.Lock()
		ch.breaks++
		ch.mu.Unlock()
		return "+OK\n", nil
	case "uuid_send_dtmf":
		f := strings.Fields(arg)
		if len(f) != 2 {
			return "-USAGE: <uuid> <dtmf_data>\n", nil
		}
		ch := s.channel(f[0])
		if ch == nil {
			return "-ERR no such channel\n", nil
		}
		return fmt.Sprintf("+OK %s sent DTMF %s.\n", f[0], f[1]), func() {
			ch.mu.Lock()
			ch.sendDTMF(f[1])
			ch.mu.Unlock()
		}
	}
	return fmt.Sprintf("-ERR %s Command not found!\n", cmd), nil
}

func (s *Server) channel(uuid string) *channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.channels[strings.TrimSpace(uuid)]
}

// sendmsg handles "call-command: execute" and "call-command: hangup".
func (s *Server) sendmsg(c *fconn, uuid string, cmd *Command) {
	ch := s.channel(uuid)
	if ch == nil {
		c.enqueue(Reply("-ERR invalid session id [" + uuid + "]"))
		return
	}
	switch strings.ToLower(cmd.Get("call-command")) {
	case "execute":
		arg := cmd.Get("execute-app-arg")
		if cmd.Body != "" {
			arg = cmd.Body
		}
		c.enqueue(Reply("+OK"))
		ch.execute(cmd.Get("execute-app-name"), arg, cmd.Get("Event-UUID"))
	case "hangup":
		c.enqueue(Reply("+OK"))
		ch.mu.Lock()
		ch.hangup(cmd.Get("hangup-cause"))
		ch.mu.Unlock()
	default:
		c.enqueue(Reply("-ERR unknown call-command"))
	}
}

// parseOriginate splits "{a=b,c='d e'}[f=g]endpoint app" into variables, the
// endpoint and the application.
func parseOriginate(arg string) (map[string]string, string, string, error) {
	vars := map[string]string{}
	rest := strings.TrimSpace(arg)
	for len(rest) > 0 && (rest[0] == '{' || rest[0] == '[') {
		closer := byte('}')
		if rest[0] == '[' {
			closer = ']'
		}
		end := -1
		quoted := false
		for i := 1; i < len(rest); i++ {
			switch {
			case rest[i] == '\'':
				quoted = !quoted
			case rest[i] == '\\':
				i++
			case rest[i] == closer && !quoted:
				end = i
			}
			if end >= 0 {
				break
			}
		}
		if end < 0 {
			return nil, "", "", fmt.Errorf("unterminated variables")
		}
		for _, kv := range splitVars(rest[1:end]) {
			k, v, _ := strings.Cut(kv, "=")
			vars[k] = strings.Trim(strings.ReplaceAll(v, `\,`, ","), "'")
		}
		rest = rest[end+1:]
	}
	endpoint, app, _ := strings.Cut(rest, " ")
	return vars, endpoint, app, nil
}

func splitVars(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			cur.WriteByte(s[i])
			cur.WriteByte(s[i+1])
			i++
		case s[i] == '\'':
			quoted = !quoted
			cur.WriteByte(s[i])
		case s[i] == ',' && !quoted:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func destination(endpoint string) string {
	parts := strings.Split(endpoint, "/")
	if parts[0] == "loopback" && len(parts) > 1 {
		return parts[1]
	}
	return parts[len(parts)-1]
}

// originate creates a channel and plays its life up to answer (or rejection)
// in the channel's virtual time.
func (s *Server) originate(arg string, now time.Time) (string, func()) {
	vars, endpoint, _, err := parseOriginate(arg)
	if err != nil || endpoint == "" {
		return "-ERR INVALID_URL\n", nil
	}
	dest := destination(endpoint)
	uuid := vars["origination_uuid"]
	if uuid == "" {
		uuid = esl.NewUUID()
	}
	s.mu.Lock()
	// switch_core_session_request: sessions-per-second over the last second,
	// then the session cap.
	cut := 0
	for cut < len(s.starts) && now.Sub(s.starts[cut]) >= time.Second {
		cut++
	}
	s.starts = s.starts[cut:]
	refuse := ""
	switch {
	case len(s.starts) >= s.opts.MaxSPS:
		refuse = "SWITCH_CONGESTION"
	case len(s.channels) >= s.opts.MaxSessions:
		refuse = "SWITCH_CONGESTION"
	}
	if refuse != "" {
		s.originates = append(s.originates, OriginateRecord{At: now, UUID: uuid, Dest: dest, Result: refuse})
		s.mu.Unlock()
		return "-ERR " + refuse + "\n", nil
	}
	s.starts = append(s.starts, now)
	beh, ok := s.opts.Numbers[dest]
	if !ok {
		beh = s.opts.Default
	}
	if beh.RingTime == 0 {
		beh.RingTime = time.Second
	}
	if beh.DTMFType == "" {
		beh.DTMFType = "rfc2833"
	}
	s.sessionID++
	ch := &channel{s: s, uuid: uuid, name: endpoint, dest: dest, created: now, beh: beh}
	ch.vars = []esl.Header{{Name: "uuid", Value: uuid}, {Name: "session_id", Value: fmt.Sprint(s.sessionID)},
		{Name: "dtmf_type", Value: beh.DTMFType}}
	for k, v := range vars {
		ch.vars = append(ch.vars, esl.Header{Name: k, Value: v})
	}
	s.channels[uuid] = ch
	if len(s.channels) > s.peak {
		s.peak = len(s.channels)
	}
	rec := len(s.originates)
	s.originates = append(s.originates, OriginateRecord{At: now, UUID: uuid, Dest: dest})
	s.mu.Unlock()

	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.event(esl.EventChannelCreate, "switch_core_session_run")
	result := "+OK " + uuid + "\n"
	switch {
	case beh.Reject != "":
		ch.now = beh.RingTime
		ch.hangup(beh.Reject)
		result = "-ERR " + beh.Reject + "\n"
	case beh.NoAnswer:
		ch.now = beh.RingTime / 2
		ch.early = true
		ch.event(esl.EventChannelProgressMedia, "switch_channel_perform_mark_pre_answered")
		if vars["ignore_early_media"] == "true" {
			ch.now = beh.RingTime
			ch.hangup("NO_ANSWER")
			result = "-ERR NO_ANSWER\n"
		}
	default:
		if beh.EarlyMedia {
			ch.now = beh.RingTime / 2
			ch.early = true
			ch.event(esl.EventChannelProgressMedia, "switch_channel_perform_mark_pre_answered")
		}
		ch.now = beh.RingTime
		ch.answered = true
		ch.event(esl.EventChannelAnswer, "switch_channel_perform_mark_answered")
		if beh.Attendant != nil {
			ch.remote = newRemote(beh.Attendant, ch.now)
		}
	}
	s.mu.Lock()
	s.originates[rec].Result = strings.TrimSpace(result)
	s.mu.Unlock()
	return result, nil
}
