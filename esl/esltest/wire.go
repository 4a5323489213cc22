package esltest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mrcpd/mrcpd/esl"
)

// The encoders below reproduce mod_event_socket's framing exactly; wire_test.go
// re-encodes every message of the real transcript with them and compares bytes.

// AuthRequest is FreeSWITCH's greeting on an inbound connection.
func AuthRequest() []byte { return []byte("Content-Type: auth/request\n\n") }

// Reply is a command/reply; extra headers (Job-UUID) follow Reply-Text.
func Reply(text string, extra ...esl.Header) []byte {
	var b bytes.Buffer
	b.WriteString("Content-Type: command/reply\nReply-Text: " + text + "\n")
	for _, h := range extra {
		b.WriteString(h.Name + ": " + h.Value + "\n")
	}
	b.WriteString("\n")
	return b.Bytes()
}

// APIResponse is an api/response with its body.
func APIResponse(body string) []byte {
	return []byte("Content-Type: api/response\nContent-Length: " + strconv.Itoa(len(body)) + "\n\n" + body)
}

// DisconnectNotice is what FreeSWITCH sends before closing (exit, bad password).
func DisconnectNotice() []byte {
	const body = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
	return []byte("Content-Type: text/disconnect-notice\nContent-Length: " + strconv.Itoa(len(body)) + "\n\n" + body)
}

// LogData is a log line as sent after the "log" command.
func LogData(level int, text string) []byte {
	body := text
	return []byte(fmt.Sprintf("Content-Type: log/data\nContent-Length: %d\nLog-Level: %d\nText-Channel: 3\nLog-File: mod_event_socket.c\nLog-Func: event_handler\nLog-Line: 400\nUser-Data: \n\n%s",
		len(body), level, body))
}

// EncodePlainEvent frames an event as text/event-plain: decoded header values are
// percent-encoded the way switch_url_encode does, a body gets its own
// Content-Length inside.
func EncodePlainEvent(headers []esl.Header, body string) []byte {
	var in bytes.Buffer
	for _, h := range headers {
		in.WriteString(h.Name + ": " + esl.URLEncode(h.Value) + "\n")
	}
	if body != "" {
		in.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\n")
	}
	in.WriteString("\n")
	in.WriteString(body)
	return append([]byte("Content-Length: "+strconv.Itoa(in.Len())+"\nContent-Type: text/event-plain\n\n"), in.Bytes()...)
}

// EncodeJSONEvent frames an event as text/event-json: keys in header order,
// values unencoded, the body as Content-Length and _body (cJSON's layout).
func EncodeJSONEvent(headers []esl.Header, body string) []byte {
	var in bytes.Buffer
	in.WriteByte('{')
	for i, h := range headers {
		if i > 0 {
			in.WriteByte(',')
		}
		in.WriteString(jsonString(h.Name) + ":" + jsonString(h.Value))
	}
	if body != "" {
		in.WriteString(`,"Content-Length":` + jsonString(strconv.Itoa(len(body))) + `,"_body":` + jsonString(body))
	}
	in.WriteByte('}')
	return append([]byte("Content-Length: "+strconv.Itoa(in.Len())+"\nContent-Type: text/event-json\n\n"), in.Bytes()...)
}

func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// DecodeJSONHeaders returns a json event's headers in document order (the body
// from _body and Content-Length are split off), for round-trip tests.
func DecodeJSONHeaders(data []byte) ([]esl.Header, string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, "", fmt.Errorf("json event: not an object")
	}
	var hs []esl.Header
	var body string
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, "", err
		}
		var v string
		if err := dec.Decode(&v); err != nil {
			return nil, "", err
		}
		switch k := kt.(string); k {
		case "_body":
			body = v
		case "Content-Length":
		default:
			hs = append(hs, esl.Header{Name: k, Value: v})
		}
	}
	return hs, body, nil
}

// Command is one command a client sent: the first line, its header lines, and
// a body when it carried content-length.
type Command struct {
	Line    string
	Headers []esl.Header
	Body    string
	Raw     []byte // exactly as received, terminator included
}

// Get returns a header of the command, case-insensitively.
func (c *Command) Get(name string) string {
	for _, h := range c.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// ReadCommand reads one client command the way mod_event_socket does: lines up
// to a blank line, then content-length bytes of body.
func ReadCommand(r *bufio.Reader) (*Command, error) {
	c := &Command{}
	var raw bytes.Buffer
	for {
		line, err := r.ReadString('\n')
		raw.WriteString(line)
		if err != nil {
			if err == io.EOF && raw.Len() > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if c.Line == "" {
				continue
			}
			break
		}
		if c.Line == "" {
			c.Line = line
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		c.Headers = append(c.Headers, esl.Header{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
	}
	if cl := c.Get("content-length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > 1<<20 {
			return nil, fmt.Errorf("esltest: bad content-length %q", cl)
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, err
		}
		raw.Write(body)
		c.Body = string(body)
	}
	c.Raw = raw.Bytes()
	return c, nil
}

// callingFile is the source file FreeSWITCH names in Event-Calling-File for
// the function that fired an event.
func callingFile(fn string) string {
	switch fn {
	case "api_exec":
		return "mod_event_socket.c"
	case "switch_core_session_exec":
		return "switch_core_session.c"
	case "switch_core_session_run":
		return "switch_core_state_machine.c"
	case "record_callback", "send_record_stop_event":
		return "switch_ivr_async.c"
	}
	return "switch_channel.c"
}
