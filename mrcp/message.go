// Package mrcp is the MRCPv2 message model and wire codec (RFC 6787 §5-§6).
//
// It knows nothing of SIP, media or backends: the session layer (mrcp/server) and the client
// (mrcp/client) exchange Message values; this package turns them into bytes and back.
package mrcp

// Version is the only protocol version RFC 6787 defines (§5.1).
const Version = "MRCP/2.0"

// Kind tells the three message shapes of RFC 6787 §5 apart by their start line.
type Kind uint8

const (
	KindRequest  Kind = iota + 1 // MRCP/2.0 len METHOD request-id            (§5.2)
	KindResponse                 // MRCP/2.0 len request-id status-code state (§5.3)
	KindEvent                    // MRCP/2.0 len EVENT request-id state       (§5.5)
)

func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindResponse:
		return "response"
	case KindEvent:
		return "event"
	}
	return "unknown"
}

// RequestState is the request-state of responses and events (§5.3).
type RequestState string

const (
	StateComplete   RequestState = "COMPLETE"
	StateInProgress RequestState = "IN-PROGRESS"
	StatePending    RequestState = "PENDING"
)

// Message is one MRCPv2 message. Name holds the method of a request or the event name of an
// event and is empty for a response.
type Message struct {
	Kind       Kind
	Name       string
	RequestID  uint32
	StatusCode int          // responses only
	State      RequestState // responses and events
	Header     Header
	Body       []byte

	// compact records that every parsed header field had no space after its colon (the layout
	// of RFC 6787's examples), so that Append reproduces it.
	compact bool
}

// Field is one header field as it appeared on the wire (name case kept, value trimmed).
type Field struct {
	Name  string
	Value string
}

// Header keeps fields in wire order so that messages round-trip byte for byte; lookups are
// case-insensitive as RFC 6787 §6 requires.
type Header struct {
	Fields []Field
}

// Get returns the value of the first field named name, and whether it was present.
func (h *Header) Get(name string) (string, bool) {
	for i := range h.Fields {
		if equalFold(h.Fields[i].Name, name) {
			return h.Fields[i].Value, true
		}
	}
	return "", false
}

// Value returns the value of the first field named name, or "".
func (h *Header) Value(name string) string {
	v, _ := h.Get(name)
	return v
}

// Set replaces the first field named name (keeping its position) or appends it.
func (h *Header) Set(name, value string) {
	for i := range h.Fields {
		if equalFold(h.Fields[i].Name, name) {
			h.Fields[i].Value = value
			h.Del(name, i+1)
			return
		}
	}
	h.Fields = append(h.Fields, Field{Name: name, Value: value})
}

// Add appends a field even if one of that name exists.
func (h *Header) Add(name, value string) {
	h.Fields = append(h.Fields, Field{Name: name, Value: value})
}

// Del removes every field named name at or after index from.
func (h *Header) Del(name string, from ...int) {
	start := 0
	if len(from) > 0 {
		start = from[0]
	}
	out := h.Fields[:start]
	for _, f := range h.Fields[start:] {
		if !equalFold(f.Name, name) {
			out = append(out, f)
		}
	}
	h.Fields = out
}

// Len is the number of fields.
func (h *Header) Len() int { return len(h.Fields) }

// equalFold is an ASCII-only strings.EqualFold: header names are tokens, and this avoids the
// Unicode tables on the hot path.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}
