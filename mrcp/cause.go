package mrcp

import "strconv"

// RecogCause is a recognizer Completion-Cause (RFC 6787 §9.4.11).
type RecogCause uint8

const (
	RecogSuccess                   RecogCause = iota // 000 success
	RecogNoMatch                                     // 001 no-match
	RecogNoInputTimeout                              // 002 no-input-timeout
	RecogHotwordMaxtime                              // 003 hotword-maxtime
	RecogGrammarLoadFailure                          // 004 grammar-load-failure
	RecogGrammarCompilationFailure                   // 005 grammar-compilation-failure
	RecogRecognizerError                             // 006 recognizer-error
	RecogSpeechTooEarly                              // 007 speech-too-early
	RecogSuccessMaxtime                              // 008 success-maxtime
	RecogURIFailure                                  // 009 uri-failure
	RecogLanguageUnsupported                         // 010 language-unsupported
	RecogCancelled                                   // 011 cancelled
	RecogSemanticsFailure                            // 012 semantics-failure
	RecogPartialMatch                                // 013 partial-match
	RecogPartialMatchMaxtime                         // 014 partial-match-maxtime
	RecogNoMatchMaxtime                              // 015 no-match-maxtime
	RecogGrammarDefinitionFailure                    // 016 grammar-definition-failure
)

var recogCauseNames = [...]string{
	"000 success",
	"001 no-match",
	"002 no-input-timeout",
	"003 hotword-maxtime",
	"004 grammar-load-failure",
	"005 grammar-compilation-failure",
	"006 recognizer-error",
	"007 speech-too-early",
	"008 success-maxtime",
	"009 uri-failure",
	"010 language-unsupported",
	"011 cancelled",
	"012 semantics-failure",
	"013 partial-match",
	"014 partial-match-maxtime",
	"015 no-match-maxtime",
	"016 grammar-definition-failure",
}

// String is the header value form, "NNN name".
func (c RecogCause) String() string { return causeString(int(c), recogCauseNames[:]) }

// SynthCause is a synthesizer Completion-Cause (RFC 6787 §8.4).
type SynthCause uint8

const (
	SynthNormal              SynthCause = iota // 000 normal
	SynthBargeIn                               // 001 barge-in
	SynthParseFailure                          // 002 parse-failure
	SynthURIFailure                            // 003 uri-failure
	SynthError                                 // 004 error
	SynthLanguageUnsupported                   // 005 language-unsupported
	SynthLexiconLoadFailure                    // 006 lexicon-load-failure
	SynthCancelled                             // 007 cancelled
)

var synthCauseNames = [...]string{
	"000 normal",
	"001 barge-in",
	"002 parse-failure",
	"003 uri-failure",
	"004 error",
	"005 language-unsupported",
	"006 lexicon-load-failure",
	"007 cancelled",
}

// String is the header value form, "NNN name".
func (c SynthCause) String() string { return causeString(int(c), synthCauseNames[:]) }

// RecordCause is a recorder Completion-Cause (RFC 6787 §10.4).
type RecordCause uint8

const (
	RecordSuccessSilence RecordCause = iota // 000 success-silence
	RecordSuccessMaxtime                    // 001 success-maxtime
	RecordNoInputTimeout                    // 002 no-input-timeout
	RecordURIFailure                        // 003 uri-failure
	RecordError                             // 004 error
)

var recordCauseNames = [...]string{
	"000 success-silence",
	"001 success-maxtime",
	"002 no-input-timeout",
	"003 uri-failure",
	"004 error",
}

// String is the header value form, "NNN name".
func (c RecordCause) String() string { return causeString(int(c), recordCauseNames[:]) }

// causeString returns the table entry so that the event path does not allocate; codes outside the
// table (only reachable by converting an arbitrary integer) still print in the wire form.
func causeString(code int, table []string) string {
	if code < len(table) {
		return table[code]
	}
	s := strconv.Itoa(code)
	for len(s) < 3 {
		s = "0" + s
	}
	return s + " unknown"
}

// Code is the numeric cause.
func (c RecogCause) Code() int { return int(c) }

// Code is the numeric cause.
func (c SynthCause) Code() int { return int(c) }

// Code is the numeric cause.
func (c RecordCause) Code() int { return int(c) }
