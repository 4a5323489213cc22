package server

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/mrcp"
)

var (
	// defaultParams answer GET-PARAMS for parameters never set; the timers match what the
	// resources use when neither the request nor SET-PARAMS gives a value.
	defaultParams = map[string]string{
		mrcp.HeaderConfidenceThreshold:     "0.5",
		mrcp.HeaderSensitivityLevel:        "0.5",
		mrcp.HeaderSpeedVsAccuracy:         "0.5",
		mrcp.HeaderNBestListLength:         "1",
		mrcp.HeaderNoInputTimeout:          "5000",
		mrcp.HeaderRecognitionTimeout:      "10000",
		mrcp.HeaderSpeechCompleteTimeout:   "800",
		mrcp.HeaderSpeechIncompleteTimeout: "1500",
		mrcp.HeaderDTMFInterdigitTimeout:   "5000",
		mrcp.HeaderDTMFTermTimeout:         "10000",
		mrcp.HeaderSpeechLanguage:          "en-US",
		mrcp.HeaderRecognitionMode:         "normal",
		mrcp.HeaderStartInputTimers:        "true",
		mrcp.HeaderCancelIfQueue:           "false",
		mrcp.HeaderVoiceName:               "default",
		mrcp.HeaderKillOnBargeIn:           "true",
		mrcp.HeaderMaxTime:                 "0",
		mrcp.HeaderFinalSilence:            "1500",
		mrcp.HeaderCaptureOnSpeech:         "false",
		mrcp.HeaderMediaType:               "audio/wav",
	}
)

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func illegal(name, v, reason string) error {
	return &mrcp.HeaderError{Name: name, Value: v, Reason: reason}
}

func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, illegal(name, v, "not true or false")
}

func parseUint(name, v string) (uint64, error) {
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, illegal(name, v, "not a non-negative integer")
	}
	return n, nil
}

func parseMS(name, v string) (time.Duration, error) {
	n, err := parseUint(name, v)
	return time.Duration(n) * time.Millisecond, err
}

// parseUnit reads a 0.0-1.0 float (Confidence-Threshold, Sensitivity-Level, ... §9.4.1-3).
func parseUnit(name, v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 {
		return 0, illegal(name, v, "not a number from 0.0 to 1.0")
	}
	return f, nil
}

// parseTermChar reads DTMF-Term-Char (§9.4.16): one of 0-9 * # A-D.
func parseTermChar(v string) (rune, error) {
	if len(v) == 1 && strings.ContainsRune("0123456789*#ABCDabcd", rune(v[0])) {
		return rune(strings.ToUpper(v)[0]), nil
	}
	return 0, illegal(mrcp.HeaderDTMFTermChar, v, "not a DTMF digit")
}

// params reads the typed values a request runs with: its own header, else SET-PARAMS, else
// the default.
type params struct {
	ch  *channel
	m   *mrcp.Message
	err error
}

func (p *params) raw(name string) string {
	if v, ok := p.ch.param(p.m, name); ok {
		return v
	}
	return defaultParams[name]
}

func (p *params) bool(name string) bool {
	b, err := parseBool(name, p.raw(name))
	p.keep(err)
	return b
}

func (p *params) ms(name string) time.Duration {
	d, err := parseMS(name, p.raw(name))
	p.keep(err)
	return d
}

func (p *params) unit(name string) float64 {
	v := p.raw(name)
	if v == "" {
		return 0
	}
	f, err := parseUnit(name, v)
	p.keep(err)
	return f
}

func (p *params) uint(name string) uint64 {
	v := p.raw(name)
	if v == "" {
		return 0
	}
	n, err := parseUint(name, v)
	p.keep(err)
	return n
}

func (p *params) keep(err error) {
	if p.err == nil {
		p.err = err
	}
}

// vendor is Vendor-Specific-Parameters (§6.2.16) as a map: the channel's SET-PARAMS pairs
// overridden by the request's own; nil when there are none.
func (p *params) vendor() map[string]string {
	out := map[string]string{}
	read := func(h *mrcp.Header) {
		ps, _, err := h.VendorParams()
		p.keep(err)
		for _, kv := range ps {
			out[kv.Name] = kv.Value
		}
	}
	if v, ok := p.ch.params[mrcp.HeaderVendorSpecificParameters]; ok {
		var h mrcp.Header
		h.Set(mrcp.HeaderVendorSpecificParameters, v)
		read(&h)
	}
	read(&p.m.Header)
	if len(out) == 0 {
		return nil
	}
	return out
}

// vendorKey finds a vendor parameter whatever its case or vendor prefix ("com.example.interim").
func vendorKey(v map[string]string, names ...string) (string, bool) {
	for k, x := range v {
		k = strings.ToLower(k)
		if i := strings.LastIndexByte(k, '.'); i >= 0 {
			k = k[i+1:]
		}
		for _, n := range names {
			if k == n {
				return x, true
			}
		}
	}
	return "", false
}
