package mrcp

// Method names of RFC 6787: generic (§6.1), synthesizer (§8.2), recognizer (§9.2), recorder (§10.2)
// and verifier (§11.2).
const (
	MethodSetParams = "SET-PARAMS"
	MethodGetParams = "GET-PARAMS"

	MethodSpeak                 = "SPEAK"
	MethodStop                  = "STOP"
	MethodPause                 = "PAUSE"
	MethodResume                = "RESUME"
	MethodBargeInOccurred       = "BARGE-IN-OCCURRED"
	MethodControl               = "CONTROL"
	MethodDefineLexicon         = "DEFINE-LEXICON"
	MethodDefineGrammar         = "DEFINE-GRAMMAR"
	MethodRecognize             = "RECOGNIZE"
	MethodInterpret             = "INTERPRET"
	MethodGetResult             = "GET-RESULT"
	MethodStartInputTimers      = "START-INPUT-TIMERS"
	MethodStartPhraseEnrollment = "START-PHRASE-ENROLLMENT"
	MethodEnrollmentRollback    = "ENROLLMENT-ROLLBACK"
	MethodEndPhraseEnrollment   = "END-PHRASE-ENROLLMENT"
	MethodModifyPhrase          = "MODIFY-PHRASE"
	MethodDeletePhrase          = "DELETE-PHRASE"
	MethodRecord                = "RECORD"

	MethodStartSession          = "START-SESSION"
	MethodEndSession            = "END-SESSION"
	MethodQueryVoiceprint       = "QUERY-VOICEPRINT"
	MethodDeleteVoiceprint      = "DELETE-VOICEPRINT"
	MethodVerify                = "VERIFY"
	MethodVerifyFromBuffer      = "VERIFY-FROM-BUFFER"
	MethodVerifyRollback        = "VERIFY-ROLLBACK"
	MethodClearBuffer           = "CLEAR-BUFFER"
	MethodGetIntermediateResult = "GET-INTERMEDIATE-RESULT"
)

// Event names: synthesizer (§8.2), recognizer (§9.2), recorder (§10.2), verifier (§11.2).
const (
	EventSpeechMarker           = "SPEECH-MARKER"
	EventSpeakComplete          = "SPEAK-COMPLETE"
	EventStartOfInput           = "START-OF-INPUT"
	EventRecognitionComplete    = "RECOGNITION-COMPLETE"
	EventInterpretationComplete = "INTERPRETATION-COMPLETE"
	EventRecordComplete         = "RECORD-COMPLETE"
	EventVerificationComplete   = "VERIFICATION-COMPLETE"
)

// Status codes of RFC 6787 §5.4.
const (
	Status200 = 200 // success
	Status201 = 201 // success with some optional header fields ignored
	Status401 = 401 // method not allowed
	Status402 = 402 // method not valid in this state
	Status403 = 403 // unsupported header field
	Status404 = 404 // illegal value for header field (syntax violation)
	Status405 = 405 // resource not allocated for this session or does not exist
	Status406 = 406 // mandatory header field missing
	Status407 = 407 // method or operation failed
	Status408 = 408 // unrecognized or unsupported message entity
	Status409 = 409 // unsupported header field value (legal, but beyond this implementation)
	Status410 = 410 // non-monotonic or out-of-order sequence number in request
	Status501 = 501 // server internal error
	Status502 = 502 // protocol version not supported
	Status503 = 503 // reserved for future assignment
	Status504 = 504 // message too large
)

// StatusText is the reason phrase of RFC 6787 §5.4 for a status code, or "" when unknown.
func StatusText(code int) string {
	switch code {
	case Status200:
		return "success"
	case Status201:
		return "success with some optional header fields ignored"
	case Status401:
		return "method not allowed"
	case Status402:
		return "method not valid in this state"
	case Status403:
		return "unsupported header field"
	case Status404:
		return "illegal value for header field"
	case Status405:
		return "resource not allocated for this session or does not exist"
	case Status406:
		return "mandatory header field missing"
	case Status407:
		return "method or operation failed"
	case Status408:
		return "unrecognized or unsupported message entity"
	case Status409:
		return "unsupported header field value"
	case Status410:
		return "non-monotonic or out-of-order sequence number in request"
	case Status501:
		return "server internal error"
	case Status502:
		return "protocol version not supported"
	case Status503:
		return "reserved for future assignment"
	case Status504:
		return "message too large"
	}
	return ""
}

// IsSuccess reports a 2xx status code (§5.4: 200-299 success).
func IsSuccess(code int) bool { return code >= 200 && code <= 299 }
