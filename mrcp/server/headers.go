package server

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/mrcp"
)

// Header tables. They are read-only after package initialisation.
var (
	genericHeaders = set(mrcp.HeaderChannelIdentifier, mrcp.HeaderAccept, mrcp.HeaderActiveRequestIDList,
		mrcp.HeaderProxySyncID, mrcp.HeaderAcceptCharset, mrcp.HeaderContentType, mrcp.HeaderContentID,
		mrcp.HeaderContentBase, mrcp.HeaderContentEncoding, mrcp.HeaderContentLocation,
		mrcp.HeaderContentLength, mrcp.HeaderFetchTimeout, mrcp.HeaderCacheControl, mrcp.HeaderLoggingTag,
		mrcp.HeaderSetCookie, mrcp.HeaderVendorSpecificParameters)

	// §9.4
	recogHeaders = set(mrcp.HeaderConfidenceThreshold, mrcp.HeaderSensitivityLevel, mrcp.HeaderSpeedVsAccuracy,
		mrcp.HeaderNBestListLength, mrcp.HeaderInputType, mrcp.HeaderNoInputTimeout, mrcp.HeaderRecognitionTimeout,
		mrcp.HeaderWaveformURI, mrcp.HeaderInputWaveformURI, mrcp.HeaderCompletionCause, mrcp.HeaderCompletionReason,
		mrcp.HeaderRecognizerContextBlock, mrcp.HeaderStartInputTimers, mrcp.HeaderSpeechCompleteTimeout,
		mrcp.HeaderSpeechIncompleteTimeout, mrcp.HeaderDTMFInterdigitTimeout, mrcp.HeaderDTMFTermTimeout,
		mrcp.HeaderDTMFTermChar, mrcp.HeaderFailedURI, mrcp.HeaderFailedURICause, mrcp.HeaderSaveWaveform,
		mrcp.HeaderMediaType, mrcp.HeaderNewAudioChannel, mrcp.HeaderSpeechLanguage, mrcp.HeaderVerBufferUtterance,
		mrcp.HeaderRecognitionMode, mrcp.HeaderCancelIfQueue, mrcp.HeaderHotwordMaxDuration,
		mrcp.HeaderHotwordMinDuration, mrcp.HeaderInterpretText, mrcp.HeaderDTMFBufferTime,
		mrcp.HeaderClearDTMFBuffer, mrcp.HeaderEarlyNoMatch, mrcp.HeaderFetchHint, mrcp.HeaderWeight,
		mrcp.HeaderNumMinConsistentPronunciations, mrcp.HeaderConsistencyThreshold, mrcp.HeaderClashThreshold,
		mrcp.HeaderPersonalGrammarURI, mrcp.HeaderEnrollUtterance, mrcp.HeaderPhraseID, mrcp.HeaderPhraseNL,
		mrcp.HeaderSaveBestWaveform, mrcp.HeaderNewPhraseID, mrcp.HeaderConfusablePhrasesURI,
		mrcp.HeaderAbortPhraseEnrollment)

	// §8.4
	synthHeaders = set(mrcp.HeaderJumpSize, mrcp.HeaderKillOnBargeIn, mrcp.HeaderSpeakerProfile,
		mrcp.HeaderCompletionCause, mrcp.HeaderCompletionReason, mrcp.HeaderVoiceGender, mrcp.HeaderVoiceAge,
		mrcp.HeaderVoiceVariant, mrcp.HeaderVoiceName, mrcp.HeaderProsodyPitch, mrcp.HeaderProsodyContour,
		mrcp.HeaderProsodyRange, mrcp.HeaderProsodyRate, mrcp.HeaderProsodyDuration, mrcp.HeaderProsodyVolume,
		mrcp.HeaderSpeechMarker, mrcp.HeaderSpeechLanguage, mrcp.HeaderFetchHint, mrcp.HeaderAudioFetchHint,
		mrcp.HeaderFailedURI, mrcp.HeaderFailedURICause, mrcp.HeaderSpeakRestart, mrcp.HeaderSpeakLength,
		mrcp.HeaderLoadLexicon, mrcp.HeaderLexiconSearchOrder)

	// §10.4
	recorderHeaders = set(mrcp.HeaderSensitivityLevel, mrcp.HeaderNoInputTimeout, mrcp.HeaderCompletionCause,
		mrcp.HeaderCompletionReason, mrcp.HeaderFailedURI, mrcp.HeaderFailedURICause, mrcp.HeaderRecordURI,
		mrcp.HeaderMediaType, mrcp.HeaderMaxTime, mrcp.HeaderTrimLength, mrcp.HeaderFinalSilence,
		mrcp.HeaderCaptureOnSpeech, mrcp.HeaderVerBufferUtterance, mrcp.HeaderStartInputTimers,
		mrcp.HeaderNewAudioChannel)

	canonicalNames = func() map[string]string {
		m := map[string]string{}
		for _, t := range []map[string]bool{genericHeaders, recogHeaders, synthHeaders, recorderHeaders} {
			for k := range t {
				m[strings.ToLower(k)] = k
			}
		}
		return m
	}()

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

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Value kinds of the parameters the resources act on (RFC 6787 §6.2 and the resource sections).
var (
	boolHeaders = set(mrcp.HeaderStartInputTimers, mrcp.HeaderCancelIfQueue, mrcp.HeaderKillOnBargeIn,
		mrcp.HeaderSaveWaveform, mrcp.HeaderCaptureOnSpeech, mrcp.HeaderNewAudioChannel,
		mrcp.HeaderClearDTMFBuffer, mrcp.HeaderEarlyNoMatch, mrcp.HeaderVerBufferUtterance,
		mrcp.HeaderEnrollUtterance, mrcp.HeaderSaveBestWaveform, mrcp.HeaderAbortPhraseEnrollment)
	msHeaders = set(mrcp.HeaderNoInputTimeout, mrcp.HeaderRecognitionTimeout, mrcp.HeaderSpeechCompleteTimeout,
		mrcp.HeaderSpeechIncompleteTimeout, mrcp.HeaderDTMFInterdigitTimeout, mrcp.HeaderDTMFTermTimeout,
		mrcp.HeaderHotwordMaxDuration, mrcp.HeaderHotwordMinDuration, mrcp.HeaderDTMFBufferTime,
		mrcp.HeaderMaxTime, mrcp.HeaderTrimLength, mrcp.HeaderFinalSilence, mrcp.HeaderFetchTimeout)
	unitHeaders = set(mrcp.HeaderConfidenceThreshold, mrcp.HeaderSensitivityLevel, mrcp.HeaderSpeedVsAccuracy,
		mrcp.HeaderConsistencyThreshold, mrcp.HeaderClashThreshold, mrcp.HeaderWeight)
	uintHeaders = set(mrcp.HeaderNBestListLength, mrcp.HeaderNumMinConsistentPronunciations)
)

// checkValue rejects a syntactically illegal value with 404 naming the header (§5.4).
func checkValue(name, v string) error {
	var err error
	switch {
	case boolHeaders[name]:
		_, err = parseBool(name, v)
	case msHeaders[name]:
		_, err = parseMS(name, v)
	case unitHeaders[name]:
		_, err = parseUnit(name, v)
	case uintHeaders[name]:
		_, err = parseUint(name, v)
	case name == mrcp.HeaderDTMFTermChar:
		_, err = parseTermChar(v)
	}
	return err
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
