package esl

import (
	"bufio"
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
// own Content-Length inside.
func parsePlainEvent(body []byte) (*Event, error) {
	inner, err := ReadMessage(bufio.NewReader(bytes.NewReader(body)))
	if err != nil {
		return nil, &ProtocolError{Reason: "plain event", Err: err}
	}
	e := &Event{Headers: make(map[string]string, len(inner.Headers))}
	for _, h := range inner.Headers {
		e.Headers[h.Name] = URLDecode(h.Value)
	}
	e.Body = string(inner.Body)
	return e, e.index()
}

func parseJSONEvent(body []byte) (*Event, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, &ProtocolError{Reason: "json event", Err: err}
	}
	e := &Event{Headers: make(map[string]string, len(raw))}
	for k, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			// Multi-valued headers arrive as arrays: keep them joined the way
			// FreeSWITCH's own "ARRAY::a|:b" encoding does in plain events.
			var arr []string
			if err2 := json.Unmarshal(v, &arr); err2 != nil {
				return nil, &ProtocolError{Reason: "json event header " + k, Err: err}
			}
			s = "ARRAY::" + strings.Join(arr, "|:")
		}
		if k == "_body" {
			e.Body = s
			continue
		}
		e.Headers[k] = s
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
