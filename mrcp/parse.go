package mrcp

import (
	"bytes"
	"strconv"
	"strings"
)

// Parse parses exactly one whole message (RFC 6787 §5). The message-length of the start line
// must equal len(b), and the body is Content-Length bytes (or, without Content-Length, whatever
// message-length leaves after the header). Start line and header lines may end in CRLF or, as
// some clients send, a bare LF. Errors are *StatusError.
//
// The Message keeps nothing of b: the header text is one string that Name, State and every Field
// slice into, and the body is copied.
func Parse(b []byte) (*Message, error) {
	end := headEnd(b, 0)
	if end < 0 {
		return nil, statusErr(Status408, "", "no empty line ends the header section", ErrMalformed)
	}
	m, h, serr := parseHead(b[:end])
	if serr != nil && m == nil {
		return nil, serr
	}
	bodyLen := h.contentLength
	if bodyLen < 0 {
		bodyLen = max(h.messageLength-end, 0)
	}
	if serr == nil {
		switch {
		case h.messageLength != len(b):
			serr = statusErr(Status404, "message-length", "message-length "+strconv.Itoa(h.messageLength)+
				" but the message is "+strconv.Itoa(len(b))+" bytes", ErrMessageLength)
		case end+bodyLen != len(b):
			serr = statusErr(Status404, HeaderContentLength, "Content-Length "+strconv.Itoa(bodyLen)+
				" but the body is "+strconv.Itoa(len(b)-end)+" bytes", ErrMessageLength)
		}
	}
	if end+bodyLen <= len(b) && bodyLen > 0 {
		m.Body = append([]byte(nil), b[end:end+bodyLen]...)
	}
	if serr != nil {
		serr.Message = m
		return nil, serr
	}
	return m, nil
}

// headInfo is what framing needs from the start line and header.
type headInfo struct {
	messageLength int
	contentLength int // -1: no Content-Length field
}

// headEnd returns the length of the start line and header section including the empty line
// that ends it, or -1 when b does not hold it yet. from is a line start already known not to be
// the empty line (the decoder resumes there).
func headEnd(b []byte, from int) int {
	i := from
	for i < len(b) {
		// i is at a line start.
		if b[i] == '\n' {
			return i + 1
		}
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			return i + 2
		}
		j := indexLF(b[i:])
		if j < 0 {
			return -1
		}
		i += j + 1
	}
	return -1
}

func indexLF(b []byte) int { return bytes.IndexByte(b, '\n') }

// msgAlloc puts a Message and room for a typical header in one allocation.
type msgAlloc struct {
	m Message
	f [8]Field
}

// parseHead parses the start line and header fields of head (which ends with the empty line).
// A nil Message with an error means the start line is unreadable and framing is lost. A Message
// with an error means the message is framed (the error is not fatal) but must be rejected.
func parseHead(head []byte) (*Message, headInfo, *StatusError) {
	info := headInfo{contentLength: -1}
	s := string(head)
	nl := bytes.Count(head, []byte("\n"))
	line, rest := cutLine(s)
	var tok [6]string
	n := 0
	for i := 0; i < len(line); {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		if j > i {
			if n == len(tok) {
				return nil, info, statusErr(Status408, "start-line", "too many elements in "+strconv.Quote(line), ErrMalformed)
			}
			tok[n] = line[i:j]
			n++
		}
		i = j
	}
	if n < 4 || len(tok[0]) < 5 || tok[0][:5] != "MRCP/" {
		return nil, info, statusErr(Status408, "start-line", "not an MRCP start line: "+strconv.Quote(line), ErrMalformed)
	}
	ml, ok := parseDigits(tok[1], 19)
	if !ok || ml > 1<<40 {
		return nil, info, statusErr(Status408, "message-length", "bad message-length "+strconv.Quote(tok[1]), ErrMalformed)
	}
	info.messageLength = int(ml)

	var a *msgAlloc
	var m *Message
	if nl-1 <= len(msgAlloc{}.f) {
		a = &msgAlloc{}
		m = &a.m
		m.Header.Fields = a.f[:0]
	} else {
		m = &Message{}
		m.Header.Fields = make([]Field, 0, nl-1)
	}
	serr := parseStartTokens(m, tok[:n], line)
	if serr != nil && serr.Code == Status408 {
		return nil, info, serr
	}
	if tok[0] != Version && serr == nil {
		serr = statusErr(Status502, "mrcp-version", tok[0]+" (only "+Version+")", ErrVersion)
	}
	if herr := parseFields(m, rest, &info); herr != nil && serr == nil {
		serr = herr
	}
	if serr != nil {
		serr.Message = m
	}
	return m, info, serr
}

// parseStartTokens fills the start line of m from its tokens after version and length
// (§5.2 request-line, §5.3 response-line, §5.5 event-line). A 408 error means the line has no
// recognisable shape.
func parseStartTokens(m *Message, tok []string, line string) *StatusError {
	var idTok string
	switch {
	case len(tok) == 5 && isDigits(tok[2]): // response: request-id status-code request-state
		m.Kind = KindResponse
		idTok = tok[2]
		code, ok := parseDigits(tok[3], 3)
		if !ok || len(tok[3]) != 3 {
			return statusErr(Status408, "status-code", "bad status-code "+strconv.Quote(tok[3]), ErrMalformed)
		}
		m.StatusCode = int(code)
		m.State = parseState(tok[4])
	case len(tok) == 5: // event: event-name request-id request-state
		m.Kind = KindEvent
		m.Name = tok[2]
		idTok = tok[3]
		m.State = parseState(tok[4])
	case len(tok) == 4: // request: method-name request-id
		m.Kind = KindRequest
		m.Name = tok[2]
		idTok = tok[3]
	default:
		return statusErr(Status408, "start-line", "not an MRCP start line: "+strconv.Quote(line), ErrMalformed)
	}
	id, ok := parseDigits(idTok, 10)
	if !ok || id > 1<<32-1 {
		return statusErr(Status408, "request-id", "bad request-id "+strconv.Quote(idTok), ErrMalformed)
	}
	m.RequestID = uint32(id)
	if m.Kind != KindRequest && m.State == "" {
		return statusErr(Status404, "request-state", "unknown request-state "+strconv.Quote(tok[len(tok)-1]), ErrMalformed)
	}
	return nil
}

func parseState(s string) RequestState {
	switch s {
	case "COMPLETE":
		return StateComplete
	case "IN-PROGRESS":
		return StateInProgress
	case "PENDING":
		return StatePending
	}
	return ""
}

// parseFields parses header lines (RFC 6787 §6: field-name ":" [ field-value ], values may be
// folded onto lines starting with white space) up to the empty line.
func parseFields(m *Message, s string, info *headInfo) *StatusError {
	var serr *StatusError
	spaced := 0
	defer func() { m.compact = spaced == 0 && len(m.Header.Fields) > 0 }()
	for len(s) > 0 {
		var line string
		line, s = cutLine(s)
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if k := len(m.Header.Fields); k > 0 {
				// Folded continuation (rare): joining needs a new string.
				f := &m.Header.Fields[k-1]
				if more := trimSpace(line); f.Value == "" {
					f.Value = more
				} else if more != "" {
					f.Value += " " + more
				}
				continue
			}
			if serr == nil {
				serr = statusErr(Status404, "", "header continuation line before any field", ErrMalformed)
			}
			continue
		}
		colon := strings.IndexByte(line, ':')
		name := ""
		if colon > 0 {
			name = trimSpace(line[:colon])
		}
		if name == "" || !isToken(name) {
			if serr == nil {
				serr = statusErr(Status404, "", "malformed header line "+strconv.Quote(line), ErrMalformed)
			}
			continue
		}
		raw := line[colon+1:]
		if len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\t') {
			spaced++
		}
		value := trimSpace(raw)
		m.Header.Fields = append(m.Header.Fields, Field{Name: name, Value: value})
		if equalFold(name, HeaderContentLength) {
			cl, ok := parseDigits(value, 10)
			if !ok || cl > 1<<40 || (info.contentLength >= 0 && int(cl) != info.contentLength) {
				if serr == nil {
					serr = statusErr(Status404, HeaderContentLength, "bad value "+strconv.Quote(value), ErrHeaderValue)
				}
				continue
			}
			info.contentLength = int(cl)
		}
	}
	return serr
}

// cutLine splits off the first line, without its CRLF or LF.
func cutLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	line, rest = s[:i], s[i+1:]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, rest
}

func trimSpace(s string) string {
	// A bare CR is white space too: Append writes it as a space, which the next parse trims.
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\r') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

// parseDigits parses 1..maxDigits ASCII digits.
func parseDigits(s string, maxDigits int) (uint64, bool) {
	if len(s) == 0 || len(s) > maxDigits {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

func isDigits(s string) bool {
	_, ok := parseDigits(s, len(s))
	return ok
}

// isToken reports RFC 2616-style token characters, which header field names are made of.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || (c < 64 && tokenLo&(1<<c) == 0) || (c >= 64 && tokenHi&(1<<(c-64)) == 0) {
			return false
		}
	}
	return true
}

// tokenLo and tokenHi are bit sets of the token characters 0-63 and 64-127: visible ASCII
// except the separators ()<>@,;:\\"/[]?={}.
const (
	tokenLo uint64 = 0x03ff6cfa00000000
	tokenHi uint64 = 0x57ffffffc7fffffe
)
