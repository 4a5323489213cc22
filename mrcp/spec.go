package mrcp

// ValueType is the syntax of a header field value (RFC 6787 §15).
type ValueType uint8

const (
	TypeString        ValueType = iota // any text
	TypeBool                           // "true" / "false"
	TypeUint                           // 1*19DIGIT
	TypeMillis                         // 1*19DIGIT milliseconds
	TypeFraction                       // FLOAT in 0.0-1.0 (confidence, sensitivity, speed vs accuracy)
	TypeFloat                          // non-negative FLOAT (Weight)
	TypeRequestIDList                  // request-id *("," request-id)
	TypeVendorParams                   // name=value *(";" name=value)
	TypeCause                          // "NNN name"
	TypeDTMFChar                       // one DTMF key
	TypeEnum                           // one of HeaderSpec.Enum
)

// Resource classes a header belongs to; generic headers belong to every resource.
const (
	classGeneric uint8 = 1 << iota
	classSynth
	classRecog
	classRecord
)

// HeaderSpec describes one header field of RFC 6787.
type HeaderSpec struct {
	Name    string // canonical spelling
	Type    ValueType
	Section string   // RFC 6787 section(s) defining it
	Enum    []string // allowed values of a TypeEnum
	classes uint8
}

// Generic reports a §6.2 generic header, valid on every resource.
func (s *HeaderSpec) Generic() bool { return s.classes&classGeneric != 0 }

// AllowedOn reports whether the header may appear in messages for resource r. Resources this
// package has no table for (speakverify) accept every header.
func (s *HeaderSpec) AllowedOn(r Resource) bool {
	c := resourceClass(r)
	return c == 0 || s.classes&(classGeneric|c) != 0
}

func resourceClass(r Resource) uint8 {
	switch r {
	case ResourceSpeechSynth, ResourceBasicSynth:
		return classSynth
	case ResourceSpeechRecog, ResourceDTMFRecog:
		return classRecog
	case ResourceRecorder:
		return classRecord
	}
	return 0
}

const (
	gen    = classGeneric
	synth  = classSynth
	recog  = classRecog
	record = classRecord
)

// headerSpecs is the read-only table of every generic (§6.2), synthesizer (§8.4), recognizer
// (§9.4) and recorder (§10.4) header.
var headerSpecs = []HeaderSpec{
	{HeaderChannelIdentifier, TypeString, "6.2", nil, gen},
	{HeaderAccept, TypeString, "6.2", nil, gen},
	{HeaderActiveRequestIDList, TypeRequestIDList, "6.2", nil, gen},
	{HeaderProxySyncID, TypeString, "6.2", nil, gen},
	{HeaderAcceptCharset, TypeString, "6.2", nil, gen},
	{HeaderContentType, TypeString, "6.2", nil, gen},
	{HeaderContentID, TypeString, "6.2", nil, gen},
	{HeaderContentBase, TypeString, "6.2", nil, gen},
	{HeaderContentEncoding, TypeString, "6.2", nil, gen},
	{HeaderContentLocation, TypeString, "6.2", nil, gen},
	{HeaderContentLength, TypeUint, "6.2", nil, gen},
	{HeaderFetchTimeout, TypeMillis, "6.2", nil, gen},
	{HeaderCacheControl, TypeString, "6.2", nil, gen},
	{HeaderLoggingTag, TypeString, "6.2", nil, gen},
	{HeaderSetCookie, TypeString, "6.2", nil, gen},
	{HeaderVendorSpecificParameters, TypeVendorParams, "6.2", nil, gen},

	{HeaderJumpSize, TypeString, "8.4", nil, synth},
	{HeaderKillOnBargeIn, TypeBool, "8.4", nil, synth},
	{HeaderSpeakerProfile, TypeString, "8.4", nil, synth},
	{HeaderCompletionCause, TypeCause, "8.4, 9.4, 10.4", nil, synth | recog | record},
	{HeaderCompletionReason, TypeString, "8.4, 9.4, 10.4", nil, synth | recog | record},
	{HeaderVoiceGender, TypeEnum, "8.4", []string{"male", "female", "neutral"}, synth},
	{HeaderVoiceAge, TypeUint, "8.4", nil, synth},
	{HeaderVoiceVariant, TypeUint, "8.4", nil, synth},
	{HeaderVoiceName, TypeString, "8.4", nil, synth},
	{HeaderProsodyPitch, TypeString, "8.4", nil, synth},
	{HeaderProsodyContour, TypeString, "8.4", nil, synth},
	{HeaderProsodyRange, TypeString, "8.4", nil, synth},
	{HeaderProsodyRate, TypeString, "8.4", nil, synth},
	{HeaderProsodyDuration, TypeString, "8.4", nil, synth},
	{HeaderProsodyVolume, TypeString, "8.4", nil, synth},
	{HeaderSpeechMarker, TypeString, "8.4", nil, synth},
	{HeaderSpeechLanguage, TypeString, "8.4, 9.4", nil, synth | recog},
	{HeaderFetchHint, TypeEnum, "8.4, 9.4", []string{"prefetch", "safe"}, synth | recog},
	{HeaderAudioFetchHint, TypeEnum, "8.4", []string{"prefetch", "safe", "stream"}, synth},
	{HeaderFailedURI, TypeString, "8.4, 9.4, 10.4", nil, synth | recog | record},
	{HeaderFailedURICause, TypeString, "8.4, 9.4, 10.4", nil, synth | recog | record},
	{HeaderSpeakRestart, TypeBool, "8.4", nil, synth},
	{HeaderSpeakLength, TypeString, "8.4", nil, synth},
	{HeaderLoadLexicon, TypeBool, "8.4", nil, synth},
	{HeaderLexiconSearchOrder, TypeString, "8.4", nil, synth},

	{HeaderConfidenceThreshold, TypeFraction, "9.4", nil, recog},
	{HeaderSensitivityLevel, TypeFraction, "9.4, 10.4", nil, recog | record},
	{HeaderSpeedVsAccuracy, TypeFraction, "9.4", nil, recog},
	{HeaderNBestListLength, TypeUint, "9.4", nil, recog},
	{HeaderInputType, TypeEnum, "9.4", []string{"speech", "dtmf"}, recog},
	{HeaderNoInputTimeout, TypeMillis, "9.4, 10.4", nil, recog | record},
	{HeaderRecognitionTimeout, TypeMillis, "9.4", nil, recog},
	{HeaderWaveformURI, TypeString, "9.4", nil, recog},
	{HeaderMediaType, TypeString, "9.4, 10.4", nil, recog | record},
	{HeaderInputWaveformURI, TypeString, "9.4", nil, recog},
	{HeaderRecognizerContextBlock, TypeString, "9.4", nil, recog},
	{HeaderStartInputTimers, TypeBool, "9.4, 10.4", nil, recog | record},
	{HeaderSpeechCompleteTimeout, TypeMillis, "9.4", nil, recog},
	{HeaderSpeechIncompleteTimeout, TypeMillis, "9.4", nil, recog},
	{HeaderDTMFInterdigitTimeout, TypeMillis, "9.4", nil, recog},
	{HeaderDTMFTermTimeout, TypeMillis, "9.4", nil, recog},
	{HeaderDTMFTermChar, TypeDTMFChar, "9.4", nil, recog},
	{HeaderSaveWaveform, TypeBool, "9.4", nil, recog},
	{HeaderNewAudioChannel, TypeBool, "9.4, 10.4", nil, recog | record},
	{HeaderVerBufferUtterance, TypeBool, "9.4, 10.4", nil, recog | record},
	{HeaderRecognitionMode, TypeEnum, "9.4", []string{"normal", "hotword"}, recog},
	{HeaderCancelIfQueue, TypeBool, "9.4", nil, recog},
	{HeaderHotwordMaxDuration, TypeMillis, "9.4", nil, recog},
	{HeaderHotwordMinDuration, TypeMillis, "9.4", nil, recog},
	{HeaderInterpretText, TypeString, "9.4", nil, recog},
	{HeaderDTMFBufferTime, TypeMillis, "9.4", nil, recog},
	{HeaderClearDTMFBuffer, TypeBool, "9.4", nil, recog},
	{HeaderEarlyNoMatch, TypeBool, "9.4", nil, recog},
	{HeaderNumMinConsistentPronunciations, TypeUint, "9.4", nil, recog},
	{HeaderConsistencyThreshold, TypeFraction, "9.4", nil, recog},
	{HeaderClashThreshold, TypeFraction, "9.4", nil, recog},
	{HeaderPersonalGrammarURI, TypeString, "9.4", nil, recog},
	{HeaderEnrollUtterance, TypeBool, "9.4", nil, recog},
	{HeaderPhraseID, TypeString, "9.4", nil, recog},
	{HeaderPhraseNL, TypeString, "9.4", nil, recog},
	{HeaderWeight, TypeFloat, "9.4", nil, recog},
	{HeaderSaveBestWaveform, TypeBool, "9.4", nil, recog},
	{HeaderNewPhraseID, TypeString, "9.4", nil, recog},
	{HeaderConfusablePhrasesURI, TypeString, "9.4", nil, recog},
	{HeaderAbortPhraseEnrollment, TypeBool, "9.4", nil, recog},

	{HeaderRecordURI, TypeString, "10.4", nil, record},
	{HeaderMaxTime, TypeMillis, "10.4", nil, record},
	{HeaderTrimLength, TypeMillis, "10.4", nil, record},
	{HeaderFinalSilence, TypeMillis, "10.4", nil, record},
	{HeaderCaptureOnSpeech, TypeBool, "10.4", nil, record},
}

// LookupHeader returns the spec of a header field (case-insensitive), or nil for a name RFC
// 6787 does not define for the generic, synthesizer, recognizer and recorder resources
// (extension headers, verifier headers). It returns a copy so the table cannot be changed.
func LookupHeader(name string) (HeaderSpec, bool) {
	for i := range headerSpecs {
		if equalFold(headerSpecs[i].Name, name) {
			s := headerSpecs[i]
			s.Enum = append([]string(nil), s.Enum...)
			return s, true
		}
	}
	return HeaderSpec{}, false
}

// lookupSpec is LookupHeader without the copy, for the validation path.
func lookupSpec(name string) *HeaderSpec {
	for i := range headerSpecs {
		if equalFold(headerSpecs[i].Name, name) {
			return &headerSpecs[i]
		}
	}
	return nil
}

// HeaderSpecs returns a copy of the table, for documentation and tests.
func HeaderSpecs() []HeaderSpec {
	out := append([]HeaderSpec(nil), headerSpecs...)
	for i := range out {
		out[i].Enum = append([]string(nil), out[i].Enum...)
	}
	return out
}
