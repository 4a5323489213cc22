package esl

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Content types FreeSWITCH's mod_event_socket puts on the wire.
const (
	TypeAuthRequest = "auth/request"
	TypeReply       = "command/reply"
	TypeAPIResponse = "api/response"
	TypeEventPlain  = "text/event-plain"
	TypeEventJSON   = "text/event-json"
	TypeEventXML    = "text/event-xml"
	TypeDisconnect  = "text/disconnect-notice"
	TypeRudeReject  = "text/rude-rejection"
	TypeLogData     = "log/data"
)

// Limits on what one message may carry; a peer that exceeds them is broken or hostile.
const (
	maxHeaderLine  = 64 << 10
	maxHeaderCount = 1024
	maxBodySize    = 16 << 20
)

// Header is one "Name: value" line kept in wire order and wire form, so the fake
// FreeSWITCH can re-encode a parsed message byte for byte.
type Header struct {
	Name  string
	Value string
}

// Message is one framed unit of the Event Socket protocol: header lines, a blank
// line, then Content-Length bytes of body.
type Message struct {
	Headers []Header
	Body    []byte
}

// Get returns the first header with that name (case-insensitive), raw as on the wire.
func (m *Message) Get(name string) string {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// ContentType is the message's Content-Type header.
func (m *Message) ContentType() string { return m.Get("Content-Type") }

// ReplyText is the Reply-Text of a command/reply, or the body of an api/response.
func (m *Message) ReplyText() string {
	if rt := m.Get("Reply-Text"); rt != "" {
		return rt
	}
	return strings.TrimRight(string(m.Body), "\n")
}

// Encode writes the message in mod_event_socket's framing: headers as given, a
// blank line, then the body. Content-Length must already be among the headers.
func (m *Message) Encode() []byte {
	var b bytes.Buffer
	for _, h := range m.Headers {
		b.WriteString(h.Name)
		b.WriteString(": ")
		b.WriteString(h.Value)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(m.Body)
	return b.Bytes()
}

// ReadMessage reads one message. A missing or invalid Content-Length on a message
// that needs one is a *ProtocolError; I/O errors are returned unchanged.
func ReadMessage(r *bufio.Reader) (*Message, error) {
	m := &Message{}
	for {
		line, err := readLine(r)
		if err != nil {
			if err == io.EOF && len(m.Headers) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if line == "" {
			if len(m.Headers) == 0 {
				// FreeSWITCH never sends empty messages, but stray blank lines
				// between messages are harmless: skip them.
				continue
			}
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			return nil, &ProtocolError{Reason: fmt.Sprintf("header line without colon: %q", truncate(line))}
		}
		if len(m.Headers) >= maxHeaderCount {
			return nil, &ProtocolError{Reason: "too many headers"}
		}
		m.Headers = append(m.Headers, Header{Name: name, Value: strings.TrimLeft(value, " ")})
	}
	if cl := m.Get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > maxBodySize {
			return nil, &ProtocolError{Reason: fmt.Sprintf("bad Content-Length %q", truncate(cl))}
		}
		m.Body = make([]byte, n)
		if _, err := io.ReadFull(r, m.Body); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return m, nil
}

func readLine(r *bufio.Reader) (string, error) {
	var buf []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return "", err
		}
		buf = append(buf, chunk...)
		if len(buf) > maxHeaderLine {
			return "", &ProtocolError{Reason: "header line too long"}
		}
		if !isPrefix {
			return string(buf), nil
		}
	}
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// urlUnsafe is switch_url_encode's set (src/switch_utils.c); bytes outside
// ' '..'~' are encoded too.
const urlUnsafe = "\r\n \"#%&+:;<=>?@[\\]^`{|}"

// URLEncode percent-encodes exactly as FreeSWITCH's switch_url_encode does, so
// values we generate look like the ones FreeSWITCH sends.
func URLEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c > '~' || strings.IndexByte(urlUnsafe, c) >= 0 {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0x0f])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// URLDecode reverses URLEncode. Unlike url.PathUnescape it never fails: a '%'
// not followed by two hex digits is kept literally, which is what FreeSWITCH's
// switch_url_decode does too.
func URLDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if h, ok := unhex(s[i+1]); ok {
				if l, ok := unhex(s[i+2]); ok {
					b.WriteByte(h<<4 | l)
					i += 2
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
