package grammar

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Builtin URIs understood by Builtin (RFC 6787 §9.4 and the UniMRCP / VoiceXML 2.0 Appendix P
// builtin grammar names).
const (
	BuiltinDTMFDigits   = "builtin:dtmf/digits"
	BuiltinDTMFBoolean  = "builtin:dtmf/boolean"
	BuiltinVoiceBoolean = "builtin:grammar/boolean"
	BuiltinVoiceDigits  = "builtin:grammar/digits"
	BuiltinTranscribe   = "builtin:speech/transcribe"
	builtinScheme       = "builtin:"
	builtinLang         = "en-US"
)

// Builtin builds the grammar a builtin: URI names. Parameters follow the path after '?' (or ';')
// and are separated by ';' or '&': length, minlength and maxlength for the digits grammars
// (builtin:dtmf/digits?length=4, builtin:dtmf/digits?minlength=3;maxlength=5). Without them a
// digits grammar takes one or more digits with no upper bound, so only a timeout or the term
// char ends it.
func Builtin(uri string) (*Grammar, error) {
	path, params, err := splitBuiltin(uri)
	if err != nil {
		return nil, err
	}
	var src string
	switch path {
	case BuiltinDTMFDigits, BuiltinVoiceDigits:
		min, max, err := lengths(uri, params)
		if err != nil {
			return nil, err
		}
		if path == BuiltinDTMFDigits {
			src = dtmfDigitsABNF(min, max)
		} else {
			src = voiceDigitsABNF(min, max)
		}
	case BuiltinDTMFBoolean:
		src = dtmfBooleanABNF
	case BuiltinVoiceBoolean:
		src = voiceBooleanABNF
	case BuiltinTranscribe:
		return &Grammar{Mode: ModeVoice, URI: uri, Dictation: true, Lang: builtinLang}, nil
	default:
		return nil, errorf(CauseLoadFailure, ErrUnknownBuiltin, 0, uri, "unknown builtin grammar (known: %s, %s, %s, %s, %s)",
			BuiltinDTMFDigits, BuiltinDTMFBoolean, BuiltinVoiceBoolean, BuiltinVoiceDigits, BuiltinTranscribe)
	}
	if len(params) > 0 && path != BuiltinDTMFDigits && path != BuiltinVoiceDigits {
		for k := range params {
			return nil, errorf(CauseCompileFailure, ErrBadParameter, 0, uri, "parameter %q is not supported by %s", k, path)
		}
	}
	g, err := parseABNF([]byte(src))
	if err != nil {
		return nil, fmt.Errorf("builtin %s: %w", uri, err) // a bug in the sources below, not in the request
	}
	g.URI = uri
	return g, nil
}

func splitBuiltin(uri string) (string, map[string]string, error) {
	if !isBuiltinURI(uri) {
		return "", nil, errorf(CauseLoadFailure, ErrUnknownBuiltin, 0, uri, "not a builtin: URI")
	}
	path, query, _ := strings.Cut(uri, "?")
	if p, q, ok := strings.Cut(path, ";"); ok {
		path, query = p, q+";"+query
	}
	params := map[string]string{}
	for _, kv := range strings.FieldsFunc(query, func(r rune) bool { return r == ';' || r == '&' }) {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			return "", nil, errorf(CauseCompileFailure, ErrBadParameter, 0, uri, "parameter %q is not name=value", kv)
		}
		params[k] = strings.TrimSpace(v)
	}
	return strings.ToLower(path), params, nil
}

// lengths reads length / minlength / maxlength (VoiceXML 2.0 Appendix P semantics): length fixes
// both; maxlength 0 or absent means unbounded.
func lengths(uri string, params map[string]string) (min, max int, err error) {
	min, max = 1, -1
	num := func(k string) (int, bool, error) {
		v, ok := params[k]
		if !ok {
			return 0, false, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxRepeat {
			return 0, true, errorf(CauseCompileFailure, ErrBadParameter, 0, uri, "%s=%q must be an integer from 1 to %d", k, v, maxRepeat)
		}
		return n, true, nil
	}
	for k := range params {
		if k != "length" && k != "minlength" && k != "maxlength" {
			return 0, 0, errorf(CauseCompileFailure, ErrBadParameter, 0, uri, "unknown parameter %q (want length, minlength, maxlength)", k)
		}
	}
	if n, ok, err := num("length"); err != nil {
		return 0, 0, err
	} else if ok {
		if _, has := params["minlength"]; has {
			return 0, 0, errorf(CauseCompileFailure, ErrBadParameter, 0, uri, "length excludes minlength/maxlength")
		}
		if _, has := params["maxlength"]; has {
			return 0, 0, errorf(CauseCompileFailure, ErrBadParameter, 0, uri, "length excludes minlength/maxlength")
		}
		return n, n, nil
	}
	if n, ok, err := num("minlength"); err != nil {
		return 0, 0, err
	} else if ok {
		min = n
	}
	if n, ok, err := num("maxlength"); err != nil {
		return 0, 0, err
	} else if ok {
		max = n
	}
	if max >= 0 && max < min {
		return 0, 0, errorf(CauseCompileFailure, ErrBadParameter, 0, uri, "maxlength %d is below minlength %d", max, min)
	}
	return min, max, nil
}

func repeatSpec(min, max int) string {
	if max < 0 {
		return fmt.Sprintf("<%d->", min)
	}
	return fmt.Sprintf("<%d-%d>", min, max)
}

// DTMF digits need no tags: an untagged DTMF grammar's result is its keys, concatenated.
func dtmfDigitsABNF(min, max int) string {
	return "#ABNF 1.0;\nmode dtmf;\nroot $digits;\n" +
		"public $digits = $digit" + repeatSpec(min, max) + ";\n" +
		"$digit = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;\n"
}

func voiceDigitsABNF(min, max int) string {
	return "#ABNF 1.0;\nlanguage en-US;\nmode voice;\ntag-format <semantics/1.0>;\nroot $digits;\n" +
		"public $digits = {out=\"\";} ($digit {out=out+rules.digit;})" + repeatSpec(min, max) + ";\n" +
		"$digit = zero {out=\"0\";} | oh {out=\"0\";} | one {out=\"1\";} | two {out=\"2\";} | three {out=\"3\";}" +
		" | four {out=\"4\";} | five {out=\"5\";} | six {out=\"6\";} | seven {out=\"7\";} | eight {out=\"8\";} | nine {out=\"9\";};\n"
}

const dtmfBooleanABNF = "#ABNF 1.0;\nmode dtmf;\ntag-format <semantics/1.0>;\nroot $boolean;\n" +
	"public $boolean = 1 {out=true;} | 2 {out=false;};\n"

const voiceBooleanABNF = "#ABNF 1.0;\nlanguage en-US;\nmode voice;\ntag-format <semantics/1.0>;\nroot $boolean;\n" +
	"public $boolean = $yes {out=true;} | $no {out=false;};\n" +
	"$yes = yes | yeah | yep | yup | sure | correct | right | true | okay | affirmative;\n" +
	"$no = no | nope | nah | false | wrong | incorrect | negative;\n"

func isBuiltinURI(uri string) bool {
	return len(uri) > len(builtinScheme) && strings.EqualFold(uri[:len(builtinScheme)], builtinScheme)
}

// importBuiltins resolves rule references to builtin: URIs (<ruleref uri="builtin:dtmf/digits?length=4"/>,
// $<builtin:grammar/digits>) by copying the builtin's rules into g under names prefixed with the
// URI, which no SRGS rule id can collide with. The rule named by the URI itself is the builtin's
// root, so SISR's rules.latest() yields the builtin's value.
func (g *Grammar) importBuiltins() error {
	var err error
	for _, id := range append([]string(nil), g.order...) {
		walk(g.rules[id].body, func(n *node) {
			if err != nil || n.kind != kRef || !isBuiltinURI(n.text) || g.rules[n.text] != nil {
				return
			}
			err = g.importBuiltin(n)
		})
	}
	return err
}

func (g *Grammar) importBuiltin(ref *node) error {
	b, err := Builtin(ref.text)
	if err != nil {
		var ge *Error
		if errors.As(err, &ge) {
			ge.Line, ge.Where = ref.line, "<ruleref "+ref.text+">"
		}
		return err
	}
	if b.Dictation || b.Mode != g.Mode {
		return errorf(CauseCompileFailure, ErrUnsupported, ref.line, "<ruleref "+ref.text+">", "a %s grammar cannot reference %s", g.Mode, ref.text)
	}
	prefix := ref.text + "#"
	for _, id := range b.order {
		r := b.rules[id]
		name := prefix + id
		if id == b.Root {
			name = ref.text
		}
		body := copyNode(r.body, func(target string) string {
			if target == b.Root {
				return ref.text
			}
			return prefix + target
		})
		g.rules[name] = &rule{id: name, body: body, line: ref.line}
		g.order = append(g.order, name)
	}
	return nil
}

func copyNode(n *node, rename func(string) string) *node {
	c := *n
	if n.kind == kRef {
		c.text = rename(n.text)
	}
	c.items = make([]*node, len(n.items))
	for i, it := range n.items {
		c.items[i] = copyNode(it, rename)
	}
	return &c
}
