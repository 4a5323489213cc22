package mrcp

import (
	"strconv"
	"strings"
	"time"
)

// Typed accessors. Each returns (value, present, error): present is false (and error nil) when
// the field is absent; error is a *HeaderError (status 404) naming the field when its value is
// not of the type RFC 6787 §15 gives it.

// Bool reads a boolean field ("true" / "false", any case), e.g. Start-Input-Timers.
func (h *Header) Bool(name string) (v, ok bool, err error) {
	s, ok := h.Get(name)
	if !ok {
		return false, false, nil
	}
	v, err = parseBool(name, s)
	return v, true, err
}

// Uint reads a non-negative integer field (1*19DIGIT), e.g. N-Best-List-Length.
func (h *Header) Uint(name string) (uint64, bool, error) {
	s, ok := h.Get(name)
	if !ok {
		return 0, false, nil
	}
	v, err := parseUint(name, s)
	return v, true, err
}

// Duration reads a field in milliseconds, e.g. No-Input-Timeout.
func (h *Header) Duration(name string) (time.Duration, bool, error) {
	s, ok := h.Get(name)
	if !ok {
		return 0, false, nil
	}
	d, err := parseMillis(name, s)
	return d, true, err
}

// Float reads a non-negative decimal field (FLOAT = *DIGIT ["." *DIGIT]), e.g. Weight.
func (h *Header) Float(name string) (float64, bool, error) {
	s, ok := h.Get(name)
	if !ok {
		return 0, false, nil
	}
	v, err := parseFloat(name, s)
	return v, true, err
}

// Fraction reads a FLOAT field restricted to 0.0-1.0: Confidence-Threshold, Sensitivity-Level,
// Speed-Vs-Accuracy, Consistency-Threshold, Clash-Threshold.
func (h *Header) Fraction(name string) (float64, bool, error) {
	s, ok := h.Get(name)
	if !ok {
		return 0, false, nil
	}
	v, err := parseFraction(name, s)
	return v, true, err
}

// DTMFTermChar reads DTMF-Term-Char (§9.4): one key of 0-9, *, #, A-D.
func (h *Header) DTMFTermChar() (rune, bool, error) {
	s, ok := h.Get(HeaderDTMFTermChar)
	if !ok {
		return 0, false, nil
	}
	r, err := parseDTMFChar(HeaderDTMFTermChar, s)
	return r, true, err
}

// ActiveRequestIDs reads Active-Request-Id-List (§6.2): request-id *("," request-id).
func (h *Header) ActiveRequestIDs() ([]uint32, bool, error) {
	s, ok := h.Get(HeaderActiveRequestIDList)
	if !ok {
		return nil, false, nil
	}
	ids, err := parseRequestIDs(HeaderActiveRequestIDList, s)
	return ids, true, err
}

// SetActiveRequestIDs writes Active-Request-Id-List.
func (h *Header) SetActiveRequestIDs(ids ...uint32) {
	b := make([]byte, 0, 11*len(ids))
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(id), 10)
	}
	h.Set(HeaderActiveRequestIDList, string(b))
}

// Param is one name=value pair of Vendor-Specific-Parameters.
type Param struct {
	Name, Value string
}

// VendorParams reads Vendor-Specific-Parameters (§6.2.16): vendor-av-pair *(";" vendor-av-pair)
// with vendor-av-pair = name "=" value. A value may be a quoted string (quotes removed).
func (h *Header) VendorParams() ([]Param, bool, error) {
	s, ok := h.Get(HeaderVendorSpecificParameters)
	if !ok {
		return nil, false, nil
	}
	ps, err := parseVendorParams(HeaderVendorSpecificParameters, s)
	return ps, true, err
}

// ContentType is the media type of Content-Type without parameters, lower-cased
// ("application/srgs+xml" of "Application/SRGS+XML; charset=UTF-8").
func (h *Header) ContentType() string {
	s := h.Value(HeaderContentType)
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	return strings.ToLower(strings.TrimSpace(s))
}

// ContentID is Content-Id (§6.2.7) without the angle brackets some clients put around it.
func (h *Header) ContentID() string {
	s := h.Value(HeaderContentID)
	if len(s) >= 2 && s[0] == '<' && s[len(s)-1] == '>' {
		s = s[1 : len(s)-1]
	}
	return s
}

// ContentLength reads Content-Length.
func (h *Header) ContentLength() (int, bool, error) {
	v, ok, err := h.Uint(HeaderContentLength)
	if err == nil && v > 1<<40 {
		err = &HeaderError{Name: HeaderContentLength, Value: h.Value(HeaderContentLength), Reason: "too large"}
	}
	return int(v), ok, err
}

// CompletionCause reads Completion-Cause ("NNN name", §8.4, §9.4, §10.4): the numeric cause and
// the name as sent.
func (h *Header) CompletionCause() (code int, name string, ok bool, err error) {
	s, ok := h.Get(HeaderCompletionCause)
	if !ok {
		return 0, "", false, nil
	}
	code, name, err = parseCause(HeaderCompletionCause, s)
	return code, name, true, err
}

// SetBool writes a boolean field.
func (h *Header) SetBool(name string, v bool) { h.Set(name, strconv.FormatBool(v)) }

// SetUint writes an integer field.
func (h *Header) SetUint(name string, v uint64) { h.Set(name, strconv.FormatUint(v, 10)) }

// SetDuration writes a millisecond field (rounded down to whole milliseconds; negative as 0).
func (h *Header) SetDuration(name string, d time.Duration) {
	h.Set(name, strconv.FormatInt(max(d.Milliseconds(), 0), 10))
}

// SetFloat writes a FLOAT field with up to 2 decimals, trailing zeros removed ("0.5", "0.75").
func (h *Header) SetFloat(name string, v float64) {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	h.Set(name, s)
}

// ParseURIList parses a text/uri-list body (RFC 2483 §5, used by RECOGNIZE, §9.5): one URI per
// line, CRLF or LF, '#' comment lines and blank lines skipped. An empty list is an error (408),
// as is a line with white space inside a URI.
func ParseURIList(body []byte) ([]string, error) {
	var uris []string
	s := string(body)
	for len(s) > 0 {
		var line string
		line, s = cutLine(s)
		line = trimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if strings.ContainsAny(line, " \t") {
			return nil, statusErr(Status408, HeaderContentType, "text/uri-list line "+strconv.Quote(line)+" is not one URI", ErrMalformed)
		}
		uris = append(uris, line)
	}
	if len(uris) == 0 {
		return nil, statusErr(Status408, HeaderContentType, "text/uri-list body holds no URI", ErrMalformed)
	}
	return uris, nil
}
