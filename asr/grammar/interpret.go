package grammar

import (
	"slices"
	"strings"
	"unicode"
)

// Tokens splits a transcript into the lower-case words a voice grammar matches. Engines that
// transcribe freely add capitals and punctuation ("Yes, billing."): the punctuation goes, and so
// does anything else that is neither a letter, a digit, an apostrophe nor a hyphen, so that an
// untagged grammar's instance is the same words whichever engine heard them.
func Tokens(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' || r == '-')
	})
}

// Ref is one grammar of a recognition, in the order the request gave them: the ID a result names,
// and the parsed grammar, or nil for a grammar only the engine reads (a text/plain phrase list, a
// media type mrcpd does not parse).
type Ref struct {
	ID string
	G  *Grammar
}

// Interpret is how every transcript becomes a result, whichever engine produced it: the first
// voice grammar in refs that accepts the transcript gives the grammar ID and the SISR instance.
// When the engine named the grammar it matched (gid), only that one is tried. A dictation grammar
// and a grammar only the engine reads accept any transcript, with the text as the instance: the
// engine alone can judge them.
//
// ok is false when no grammar accepts the transcript. The caller makes that a no-match (RFC 6787
// §9.4.11, 001) unless the request or the configuration asked for free text.
func Interpret(refs []Ref, text, gid string) (id, instance string, ok bool) {
	if gid != "" && !slices.ContainsFunc(refs, func(r Ref) bool { return r.ID == gid }) {
		gid = "" // an ID the engine made up names nothing: judge by every grammar
	}
	toks := Tokens(text)
	for _, r := range refs {
		if (gid != "" && r.ID != gid) || (r.G != nil && r.G.Mode == ModeDTMF) {
			continue
		}
		if r.G == nil || r.G.Dictation {
			return r.ID, strings.Join(strings.Fields(text), " "), true
		}
		if inst, ok := r.G.Interpret(toks); ok {
			return r.ID, inst, true
		}
	}
	return "", "", false
}
