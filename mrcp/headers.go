package mrcp

// Generic header field names (RFC 6787 §6.2).
const (
	HeaderChannelIdentifier        = "Channel-Identifier"
	HeaderAccept                   = "Accept"
	HeaderActiveRequestIDList      = "Active-Request-Id-List"
	HeaderProxySyncID              = "Proxy-Sync-Id"
	HeaderAcceptCharset            = "Accept-Charset"
	HeaderContentType              = "Content-Type"
	HeaderContentID                = "Content-Id"
	HeaderContentBase              = "Content-Base"
	HeaderContentEncoding          = "Content-Encoding"
	HeaderContentLocation          = "Content-Location"
	HeaderContentLength            = "Content-Length"
	HeaderFetchTimeout             = "Fetch-Timeout"
	HeaderCacheControl             = "Cache-Control"
	HeaderLoggingTag               = "Logging-Tag"
	HeaderSetCookie                = "Set-Cookie"
	HeaderVendorSpecificParameters = "Vendor-Specific-Parameters"
)

// Header fields shared by several resources: completion (§8.4.11-12, §9.4.11-12, §10.4.3-4) and
// fetch failures (§8.4.16-17, §9.4.19-20, §10.4.5-6), timers and media.
const (
	HeaderCompletionCause    = "Completion-Cause"
	HeaderCompletionReason   = "Completion-Reason"
	HeaderFailedURI          = "Failed-URI"
	HeaderFailedURICause     = "Failed-URI-Cause"
	HeaderSpeechLanguage     = "Speech-Language"
	HeaderSensitivityLevel   = "Sensitivity-Level"
	HeaderNoInputTimeout     = "No-Input-Timeout"
	HeaderMediaType          = "Media-Type"
	HeaderStartInputTimers   = "Start-Input-Timers"
	HeaderNewAudioChannel    = "New-Audio-Channel"
	HeaderVerBufferUtterance = "Ver-Buffer-Utterance"
	HeaderFetchHint          = "Fetch-Hint"
)

// Synthesizer header fields (RFC 6787 §8.4).
const (
	HeaderJumpSize           = "Jump-Size"
	HeaderKillOnBargeIn      = "Kill-On-Barge-In"
	HeaderSpeakerProfile     = "Speaker-Profile"
	HeaderVoiceGender        = "Voice-Gender"
	HeaderVoiceAge           = "Voice-Age"
	HeaderVoiceVariant       = "Voice-Variant"
	HeaderVoiceName          = "Voice-Name"
	HeaderProsodyPitch       = "Prosody-Pitch"
	HeaderProsodyContour     = "Prosody-Contour"
	HeaderProsodyRange       = "Prosody-Range"
	HeaderProsodyRate        = "Prosody-Rate"
	HeaderProsodyDuration    = "Prosody-Duration"
	HeaderProsodyVolume      = "Prosody-Volume"
	HeaderSpeechMarker       = "Speech-Marker"
	HeaderAudioFetchHint     = "Audio-Fetch-Hint"
	HeaderSpeakRestart       = "Speak-Restart"
	HeaderSpeakLength        = "Speak-Length"
	HeaderLoadLexicon        = "Load-Lexicon"
	HeaderLexiconSearchOrder = "Lexicon-Search-Order"
)

// Recognizer header fields (RFC 6787 §9.4).
const (
	HeaderConfidenceThreshold            = "Confidence-Threshold"
	HeaderSpeedVsAccuracy                = "Speed-Vs-Accuracy"
	HeaderNBestListLength                = "N-Best-List-Length"
	HeaderInputType                      = "Input-Type"
	HeaderRecognitionTimeout             = "Recognition-Timeout"
	HeaderWaveformURI                    = "Waveform-URI"
	HeaderInputWaveformURI               = "Input-Waveform-URI"
	HeaderRecognizerContextBlock         = "Recognizer-Context-Block"
	HeaderSpeechCompleteTimeout          = "Speech-Complete-Timeout"
	HeaderSpeechIncompleteTimeout        = "Speech-Incomplete-Timeout"
	HeaderDTMFInterdigitTimeout          = "DTMF-Interdigit-Timeout"
	HeaderDTMFTermTimeout                = "DTMF-Term-Timeout"
	HeaderDTMFTermChar                   = "DTMF-Term-Char"
	HeaderSaveWaveform                   = "Save-Waveform"
	HeaderRecognitionMode                = "Recognition-Mode"
	HeaderCancelIfQueue                  = "Cancel-If-Queue"
	HeaderHotwordMaxDuration             = "Hotword-Max-Duration"
	HeaderHotwordMinDuration             = "Hotword-Min-Duration"
	HeaderInterpretText                  = "Interpret-Text"
	HeaderDTMFBufferTime                 = "DTMF-Buffer-Time"
	HeaderClearDTMFBuffer                = "Clear-DTMF-Buffer"
	HeaderEarlyNoMatch                   = "Early-No-Match"
	HeaderNumMinConsistentPronunciations = "Num-Min-Consistent-Pronunciations"
	HeaderConsistencyThreshold           = "Consistency-Threshold"
	HeaderClashThreshold                 = "Clash-Threshold"
	HeaderPersonalGrammarURI             = "Personal-Grammar-URI"
	HeaderEnrollUtterance                = "Enroll-Utterance"
	HeaderPhraseID                       = "Phrase-Id"
	HeaderPhraseNL                       = "Phrase-NL"
	HeaderWeight                         = "Weight"
	HeaderSaveBestWaveform               = "Save-Best-Waveform"
	HeaderNewPhraseID                    = "New-Phrase-Id"
	HeaderConfusablePhrasesURI           = "Confusable-Phrases-URI"
	HeaderAbortPhraseEnrollment          = "Abort-Phrase-Enrollment"
)

// Recorder header fields (RFC 6787 §10.4).
const (
	HeaderRecordURI       = "Record-URI"
	HeaderMaxTime         = "Max-Time"
	HeaderTrimLength      = "Trim-Length"
	HeaderFinalSilence    = "Final-Silence"
	HeaderCaptureOnSpeech = "Capture-On-Speech"
)
