package esl

import (
	"context"
	"encoding/xml"
	"fmt"
	"sort"
	"strings"

	"github.com/mrcpd/mrcpd/mrcp/nlsml"
)

// DetectRequest is play_and_detect_speech against an MRCP profile of
// mod_unimrcp ("detect:unimrcp:<profile>").
type DetectRequest struct {
	Prompt  string // file, tone_stream://, or silence_stream://N to just listen
	Profile string // mod_unimrcp profile name, e.g. "mrcpd"
	Grammar string // builtin:grammar/boolean, a URI, or a path (mod_unimrcp adds .gram)
	// Params become {k=v,...} before the grammar: MRCP recognizer headers such
	// as start-input-timers, no-input-timeout, speech-complete-timeout.
	Params map[string]string
}

// Arg builds the application argument.
func (r DetectRequest) Arg() (string, error) {
	if r.Prompt == "" {
		r.Prompt = "silence_stream://-1"
	}
	if !noSpacesRE.MatchString(r.Prompt) {
		return "", fmt.Errorf("%w: prompt %q", ErrInvalidValue, r.Prompt)
	}
	if !profileRE.MatchString(r.Profile) {
		return "", fmt.Errorf("%w: profile %q", ErrInvalidValue, r.Profile)
	}
	if !noSpacesRE.MatchString(r.Grammar) || strings.ContainsAny(r.Grammar, "{}") {
		return "", fmt.Errorf("%w: grammar %q", ErrInvalidValue, r.Grammar)
	}
	keys := make([]string, 0, len(r.Params))
	for k := range r.Params {
		if !varNameRE.MatchString(k) {
			return "", fmt.Errorf("%w: recognizer parameter %q", ErrInvalidValue, k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var params []string
	for _, k := range keys {
		v := r.Params[k]
		if !noSpacesRE.MatchString(v) || strings.ContainsAny(v, ",{}") {
			return "", fmt.Errorf("%w: recognizer parameter %s=%q", ErrInvalidValue, k, v)
		}
		params = append(params, k+"="+v)
	}
	p := ""
	if len(params) > 0 {
		p = "{" + strings.Join(params, ",") + "}"
	}
	return r.Prompt + " detect:unimrcp:" + r.Profile + " " + p + r.Grammar, nil
}

// Recognition is mod_unimrcp's result for one play_and_detect_speech.
type Recognition struct {
	// Cause is the MRCP Completion-Cause when mod_unimrcp reported one instead
	// of NLSML ("002 no-input-timeout"); empty on a match.
	Cause           string
	Interpretations []Interpretation
	Raw             string
}

// Interpretation is one NLSML <interpretation>.
type Interpretation struct {
	Grammar    string
	Confidence float64
	Instance   string // semantic result (SISR out), text content only
	Input      string // what was heard
	Mode       string // speech or dtmf
}

// Text is the best interpretation's input, or "".
func (r *Recognition) Text() string {
	if len(r.Interpretations) == 0 {
		return ""
	}
	return r.Interpretations[0].Input
}

// Matched reports a successful recognition.
func (r *Recognition) Matched() bool { return len(r.Interpretations) > 0 }

// ParseNLSML parses detect_speech_result: NLSML (RFC 6787 §9.6, read by
// mrcp/nlsml) or the "Completion-Cause: NNN ..." text mod_unimrcp leaves when
// nothing matched. Interpretations come best first; an SISR instance that is
// XML is reduced to its text, which is what flows match words against.
func ParseNLSML(s string) (*Recognition, error) {
	rec := &Recognition{Raw: s}
	t := strings.TrimSpace(s)
	if t == "" {
		rec.Cause = "no result"
		return rec, nil
	}
	if cause, ok := strings.CutPrefix(t, "Completion-Cause:"); ok {
		rec.Cause = strings.TrimSpace(cause)
		return rec, nil
	}
	res, err := nlsml.Parse([]byte(t))
	if err != nil {
		return nil, &ProtocolError{Reason: "NLSML result", Err: err}
	}
	switch {
	case res.NoInput:
		rec.Cause = "no-input"
	case res.NoMatch:
		rec.Cause = "no-match"
	}
	for _, in := range res.Interpretations {
		rec.Interpretations = append(rec.Interpretations, Interpretation{Grammar: in.Grammar,
			Confidence: in.Confidence, Instance: strings.TrimSpace(stripTags(in.Instance)), Input: in.Input,
			Mode: in.Mode})
	}
	sort.SliceStable(rec.Interpretations, func(i, j int) bool {
		return rec.Interpretations[i].Confidence > rec.Interpretations[j].Confidence
	})
	return rec, nil
}

// stripTags keeps the text of an XML instance (an SISR object such as
// <department>billing</department>); nlsml has unescaped a text instance.
func stripTags(s string) string {
	if !strings.HasPrefix(strings.TrimSpace(s), "<") {
		return s
	}
	var b strings.Builder
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		tok, err := d.Token()
		if err != nil {
			return b.String()
		}
		if cd, ok := tok.(xml.CharData); ok {
			b.Write(cd)
		}
	}
}

// PlayAndDetectSpeech plays the prompt while mrcpd (via mod_unimrcp) listens,
// and returns the parsed result from detect_speech_result.
func (call *Call) PlayAndDetectSpeech(ctx context.Context, r DetectRequest) (*Recognition, error) {
	arg, err := r.Arg()
	if err != nil {
		return nil, err
	}
	ev, err := call.Execute(ctx, "play_and_detect_speech", arg)
	if err != nil {
		return nil, err
	}
	return ParseNLSML(ev.Var("detect_speech_result"))
}
