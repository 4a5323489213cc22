package server

import (
	"fmt"
	"slices"
	"sort"
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
		mrcp.HeaderSaveWaveform:            "false",
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

// fits reports whether the channel's parameters, with staged set over them, stay within
// mrcp.max_channel_params bytes: what one channel stores, and so what GET-PARAMS returns and
// what a RECOGNIZE hands an engine, is bounded. 409: the value is legal, but more than this
// server keeps.
func (ch *channel) fits(staged map[string]string) error {
	size, over := 0, ""
	for k, v := range ch.params {
		if _, ok := staged[k]; !ok {
			size += len(k) + len(v)
		}
	}
	for _, k := range sortedKeys(staged) {
		if size += len(k) + len(staged[k]); size > ch.se.srv.cfg.MaxChannelParams && over == "" {
			over = k
		}
	}
	if over == "" {
		return nil
	}
	ch.se.srv.cfg.Metrics.requestRefused(refusedParamsFull)
	return &mrcp.StatusError{Code: mrcp.Status409, Header: over,
		Reason: fmt.Sprintf("the channel's parameters would take %d bytes, more than mrcp.max_channel_params (%d)", size, ch.se.srv.cfg.MaxChannelParams)}
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

// read parses the value in force for name with one of mrcp's typed accessors ((*mrcp.Header).Bool,
// Duration, ...), keeping the first error; an absent value reads as the type's zero.
func read[T any](p *params, name string, accessor func(*mrcp.Header, string) (T, bool, error)) T {
	var h mrcp.Header
	if v := p.raw(name); v != "" {
		h.Set(name, v)
	}
	v, _, err := accessor(&h, name)
	p.keep(err)
	return v
}

func (p *params) bool(name string) bool        { return read(p, name, (*mrcp.Header).Bool) }
func (p *params) ms(name string) time.Duration { return read(p, name, (*mrcp.Header).Duration) }
func (p *params) unit(name string) float64     { return read(p, name, (*mrcp.Header).Fraction) }
func (p *params) uint(name string) uint64      { return read(p, name, (*mrcp.Header).Uint) }
func (p *params) termChar() rune {
	return read(p, mrcp.HeaderDTMFTermChar, func(h *mrcp.Header, _ string) (rune, bool, error) { return h.DTMFTermChar() })
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

// listed reports whether a STOP's Active-Request-Id-List (§6.2.2) includes id; no list means all.
// Validate has checked the list.
func listed(m *mrcp.Message, id uint32) bool {
	ids, ok, _ := m.Header.ActiveRequestIDs()
	return !ok || slices.Contains(ids, id)
}

// grammarsFit reports whether the channel's defined grammars, with id's body of n bytes, stay
// within mrcp.max_channel_grammars bytes (409 otherwise, and nothing is stored).
func (r *recognizer) grammarsFit(id string, n int) error {
	size := n
	for k, d := range r.grammars {
		if k != id {
			size += len(d.body)
		}
	}
	limit := r.ch.se.srv.cfg.MaxChannelGrammars
	if size <= limit {
		return nil
	}
	r.ch.se.srv.cfg.Metrics.requestRefused(refusedGrammarsFull)
	return &mrcp.StatusError{Code: mrcp.Status409, Header: mrcp.HeaderContentID,
		Reason: fmt.Sprintf("the channel's grammars would take %d bytes, more than mrcp.max_channel_grammars (%d)", size, limit)}
}
