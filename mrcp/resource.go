package mrcp

// Resource is a media resource type (RFC 6787 §3.1), the part of a Channel-Identifier after "@".
type Resource string

const (
	ResourceSpeechRecog Resource = "speechrecog"
	ResourceDTMFRecog   Resource = "dtmfrecog"
	ResourceSpeechSynth Resource = "speechsynth"
	ResourceBasicSynth  Resource = "basicsynth"
	ResourceSpeakVerify Resource = "speakverify"
	ResourceRecorder    Resource = "recorder"
)
