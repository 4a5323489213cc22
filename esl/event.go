package esl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Event names the client reacts to.
const (
	EventChannelCreate          = "CHANNEL_CREATE"
	EventChannelProgress        = "CHANNEL_PROGRESS"
	EventChannelProgressMedia   = "CHANNEL_PROGRESS_MEDIA"
	EventChannelAnswer          = "CHANNEL_ANSWER"
	EventChannelExecute         = "CHANNEL_EXECUTE"
	EventChannelExecuteComplete = "CHANNEL_EXECUTE_COMPLETE"
	EventChannelBridge          = "CHANNEL_BRIDGE"
	EventChannelHangup          = "CHANNEL_HANGUP"
	EventChannelHangupComplete  = "CHANNEL_HANGUP_COMPLETE"
	EventDTMF                   = "DTMF"
	EventBackgroundJob          = "BACKGROUND_JOB"
	EventHeartbeat              = "HEARTBEAT"
	EventDetectedSpeech         = "DETECTED_SPEECH"
	EventRecordStart            = "RECORD_START"
	EventRecordStop             = "RECORD_STOP"
)

// Synthetic events the client puts into a call's mailbox; they never come from
// FreeSWITCH (FreeSWITCH event names have no "ESL::" prefix).
const (
	// EventResync: events for this call may have been lost (reconnect, FreeSWITCH's
	// "Lost [n] events" notice, or our own mailbox overflow). Headers carry the
	// channel's state as re-read with uuid_dump when it was still up.
	EventResync = "ESL::RESYNC"
	// EventGone: the channel no longer exists and its hangup events were lost.
	EventGone = "ESL::GONE"
)

// Event is one FreeSWITCH event with header values percent-decoded.
type Event struct {
	Name     string
	Seq      uint64 // Event-Sequence; 0 when absent (synthetic events)
	UniqueID string
	Headers  map[string]string
	Body     string
}

// Get returns a header value; exact name first, then case-insensitively, since
// FreeSWITCH and its modules are not consistent about case (Unique-ID vs Unique-Id).
func (e *Event) Get(name string) string {
	if v, ok := e.Headers[name]; ok {
		return v
	}
	for k, v := range e.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Var returns a channel variable (variable_<name>).
func (e *Event) Var(name string) string { return e.Get("variable_" + name) }

// HangupCause is the Hangup-Cause header (or the variable on HANGUP_COMPLETE).
func (e *Event) HangupCause() string {
	if c := e.Get("Hangup-Cause"); c != "" {
		return c
	}
	return e.Var("hangup_cause")
}

func (e *Event) String() string {
	return fmt.Sprintf("%s seq=%d uuid=%s", e.Name, e.Seq, e.UniqueID)
}

// ParseEvent decodes the body of a text/event-plain or text/event-json message.
func ParseEvent(contentType string, body []byte) (*Event, error) {
	switch contentType {
	case TypeEventPlain:
		return parsePlainEvent(body)
	case TypeEventJSON:
		return parseJSONEvent(body)
	default:
		return nil, &ProtocolError{Reason: "unsupported event type " + contentType}
	}
}

// parsePlainEvent: the body is itself a message whose header values are
// percent-encoded; an event with a body (BACKGROUND_JOB, api results) has its
// own Content-Length inside. Parsed in place: this runs on the socket reader
// for every event.
func parsePlainEvent(body []byte) (*Event, error) {
	e := &Event{Headers: make(map[string]string, 64)}
	rest := body
	for {
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			return nil, &ProtocolError{Reason: "plain event: headers not terminated"}
		}
		line := rest[:nl]
		rest = rest[nl+1:]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 {
			if len(e.Headers) == 0 {
				continue
			}
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return nil, &ProtocolError{Reason: fmt.Sprintf("plain event: header line without colon: %q", truncate(string(line)))}
		}
		value := bytes.TrimLeft(line[colon+1:], " ")
		e.Headers[string(line[:colon])] = URLDecode(string(value))
	}
	if cl, ok := e.Headers["Content-Length"]; ok {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > len(rest) {
			return nil, &ProtocolError{Reason: fmt.Sprintf("plain event: bad Content-Length %q", truncate(cl))}
		}
		e.Body = string(rest[:n])
		delete(e.Headers, "Content-Length")
	}
	return e, e.index()
}

func parseJSONEvent(body []byte) (*Event, error) {
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, &ProtocolError{Reason: "json event", Err: err}
	}
	e := &Event{Headers: make(map[string]string, len(raw))}
	for k, v := range raw {
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case []any:
			// Multi-valued headers arrive as arrays: keep them joined the way
			// FreeSWITCH's own "ARRAY::a|:b" encoding does in plain events.
			parts := make([]string, 0, len(v))
			for _, p := range v {
				ps, ok := p.(string)
				if !ok {
					return nil, &ProtocolError{Reason: "json event header " + k + ": array of non-strings"}
				}
				parts = append(parts, ps)
			}
			s = "ARRAY::" + strings.Join(parts, "|:")
		default:
			return nil, &ProtocolError{Reason: "json event header " + k + ": not a string"}
		}
		switch k {
		case "_body":
			e.Body = s
		case "Content-Length":
		default:
			e.Headers[k] = s
		}
	}
	return e, e.index()
}

func (e *Event) index() error {
	e.Name = e.Get("Event-Name")
	if e.Name == "" {
		return &ProtocolError{Reason: "event without Event-Name"}
	}
	e.UniqueID = e.Get("Unique-ID")
	if s := e.Get("Event-Sequence"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return &ProtocolError{Reason: "bad Event-Sequence " + truncate(s)}
		}
		e.Seq = n
	}
	return nil
}
