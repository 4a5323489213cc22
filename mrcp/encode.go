package mrcp

import (
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Append appends the wire form of m to dst (RFC 6787 §5). The message-length is computed, and
// Content-Length is written as len(Body) (in place when the field exists, appended otherwise).
// Fields keep their order and spelling, so a parsed message re-serialises to the same bytes.
// CR and LF inside values are written as spaces so that no value can inject a header line.
func (m *Message) Append(dst []byte) []byte {
	hasCL := false
	sep := 2 // ": "
	if m.compact {
		sep = 1
	}
	n := len(Version) + 2 + m.startTailLen() + 2
	for i := range m.Header.Fields {
		f := &m.Header.Fields[i]
		vlen := len(f.Value)
		if equalFold(f.Name, HeaderContentLength) {
			hasCL = true
			vlen = digitCount(uint64(len(m.Body)))
		}
		n += len(f.Name) + sep + vlen + 2
	}
	if !hasCL && len(m.Body) > 0 {
		n += len(HeaderContentLength) + sep + digitCount(uint64(len(m.Body))) + 2
	}
	n += 2 + len(m.Body)
	// The length covers its own digits (§5.1): the smallest total that is a fixed point.
	total := n + 1
	for total != n+digitCount(uint64(total)) {
		total = n + digitCount(uint64(total))
	}
	dst = slices.Grow(dst, total)

	dst = append(dst, Version...)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(total), 10)
	dst = append(dst, ' ')
	switch m.Kind {
	case KindRequest:
		dst = append(dst, m.Name...)
		dst = append(dst, ' ')
		dst = strconv.AppendUint(dst, uint64(m.RequestID), 10)
	case KindResponse:
		dst = strconv.AppendUint(dst, uint64(m.RequestID), 10)
		dst = append(dst, ' ')
		dst = appendStatus(dst, m.StatusCode)
		dst = append(dst, ' ')
		dst = append(dst, m.State...)
	default:
		dst = append(dst, m.Name...)
		dst = append(dst, ' ')
		dst = strconv.AppendUint(dst, uint64(m.RequestID), 10)
		dst = append(dst, ' ')
		dst = append(dst, m.State...)
	}
	dst = append(dst, '\r', '\n')
	for i := range m.Header.Fields {
		f := &m.Header.Fields[i]
		dst = appendSafe(dst, f.Name)
		dst = append(dst, ':')
		if !m.compact {
			dst = append(dst, ' ')
		}
		if equalFold(f.Name, HeaderContentLength) {
			dst = strconv.AppendUint(dst, uint64(len(m.Body)), 10)
		} else {
			dst = appendSafe(dst, f.Value)
		}
		dst = append(dst, '\r', '\n')
	}
	if !hasCL && len(m.Body) > 0 {
		dst = append(dst, HeaderContentLength...)
		dst = append(dst, ':')
		if !m.compact {
			dst = append(dst, ' ')
		}
		dst = strconv.AppendUint(dst, uint64(len(m.Body)), 10)
		dst = append(dst, '\r', '\n')
	}
	dst = append(dst, '\r', '\n')
	return append(dst, m.Body...)
}

// MarshalBinary returns the wire form of m; it fails only for a Message without a valid Kind.
func (m *Message) MarshalBinary() ([]byte, error) {
	switch m.Kind {
	case KindRequest, KindResponse, KindEvent:
	default:
		return nil, errors.New("mrcp: marshal: message kind " + strconv.Itoa(int(m.Kind)) + " is not request, response or event")
	}
	return m.Append(nil), nil
}

// String is the wire form, for logs and tests.
func (m *Message) String() string { return string(m.Append(nil)) }

func (m *Message) startTailLen() int {
	id := digitCount(uint64(m.RequestID))
	switch m.Kind {
	case KindRequest:
		return len(m.Name) + 1 + id
	case KindResponse:
		return id + 1 + max(3, digitCount(uint64(max(m.StatusCode, 0)))) + 1 + len(m.State)
	default:
		return len(m.Name) + 1 + id + 1 + len(m.State)
	}
}

// appendStatus writes the 3DIGIT status-code (§5.3).
func appendStatus(dst []byte, code int) []byte {
	if code < 0 {
		code = 0
	}
	for d := digitCount(uint64(code)); d < 3; d++ {
		dst = append(dst, '0')
	}
	return strconv.AppendUint(dst, uint64(code), 10)
}

func appendSafe(dst []byte, s string) []byte {
	if strings.IndexByte(s, '\r') < 0 && strings.IndexByte(s, '\n') < 0 {
		return append(dst, s...)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}

func digitCount(v uint64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}
