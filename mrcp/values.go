package mrcp

import (
	"strconv"
	"strings"
	"time"
)

// Value parsers shared by the accessors and Validate. Every error is a *HeaderError.

func parseBool(name, s string) (bool, error) {
	switch {
	case equalFold(s, "true"):
		return true, nil
	case equalFold(s, "false"):
		return false, nil
	}
	return false, &HeaderError{Name: name, Value: s, Reason: `want "true" or "false"`}
}

func parseUint(name, s string) (uint64, error) {
	v, ok := parseDigits(s, 19)
	if !ok {
		return 0, &HeaderError{Name: name, Value: s, Reason: "want 1 to 19 digits"}
	}
	return v, nil
}

// maxMillis keeps durations inside time.Duration.
const maxMillis = uint64(1<<63-1) / uint64(time.Millisecond)

func parseMillis(name, s string) (time.Duration, error) {
	v, ok := parseDigits(s, 19)
	if !ok {
		return 0, &HeaderError{Name: name, Value: s, Reason: "want milliseconds (1 to 19 digits)"}
	}
	if v > maxMillis {
		return 0, &HeaderError{Name: name, Value: s, Reason: "duration out of range"}
	}
	return time.Duration(v) * time.Millisecond, nil
}

// parseFloat accepts FLOAT = *DIGIT ["." *DIGIT] (at least one digit), without signs or
// exponents, which strconv.ParseFloat would let through.
func parseFloat(name, s string) (float64, error) {
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			digits = 0
			i = len(s)
		}
	}
	if digits == 0 || len(s) > 32 {
		return 0, &HeaderError{Name: name, Value: s, Reason: "want a decimal number"}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, &HeaderError{Name: name, Value: s, Reason: "want a decimal number"}
	}
	return v, nil
}

func parseFraction(name, s string) (float64, error) {
	v, err := parseFloat(name, s)
	if err == nil && v > 1 {
		err = &HeaderError{Name: name, Value: s, Reason: "want 0.0 to 1.0"}
	}
	return v, err
}

func parseDTMFChar(name, s string) (rune, error) {
	if len(s) == 1 {
		switch c := s[0]; {
		case c >= '0' && c <= '9', c == '*', c == '#', c >= 'A' && c <= 'D':
			return rune(c), nil
		case c >= 'a' && c <= 'd':
			return rune(c - 'a' + 'A'), nil
		}
	}
	return 0, &HeaderError{Name: name, Value: s, Reason: "want one DTMF key: 0-9, *, #, A-D"}
}

func parseRequestIDs(name, s string) ([]uint32, error) {
	ids := make([]uint32, 0, strings.Count(s, ",")+1)
	for part := range strings.SplitSeq(s, ",") {
		v, ok := parseDigits(trimSpace(part), 10)
		if !ok || v > 1<<32-1 {
			return nil, &HeaderError{Name: name, Value: s, Reason: "want request-ids separated by commas"}
		}
		ids = append(ids, uint32(v))
	}
	return ids, nil
}

func parseVendorParams(name, s string) ([]Param, error) {
	var ps []Param
	for part := range strings.SplitSeq(s, ";") {
		part = trimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = trimSpace(k), trimSpace(v)
		if !ok || k == "" || !isToken(k) {
			return nil, &HeaderError{Name: name, Value: s, Reason: "want name=value pairs separated by ';'"}
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		ps = append(ps, Param{Name: k, Value: v})
	}
	if len(ps) == 0 {
		return nil, &HeaderError{Name: name, Value: s, Reason: "no name=value pair"}
	}
	return ps, nil
}

// parseCause reads "NNN name" (the name is optional on input).
func parseCause(name, s string) (int, string, error) {
	num, rest, _ := strings.Cut(s, " ")
	v, ok := parseDigits(num, 3)
	if !ok || len(num) != 3 {
		return 0, "", &HeaderError{Name: name, Value: s, Reason: `want "NNN cause-name"`}
	}
	return int(v), trimSpace(rest), nil
}
