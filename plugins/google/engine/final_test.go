package engine

import (
	"testing"

	"cloud.google.com/go/speech/apiv1/speechpb"

	"github.com/mrcpd/mrcpd/plugins/internal/vendorkit"
)

// Google finalizes a long utterance as several results; the Final joins their best paths into one
// speech alternative, like the other vendors' multi-segment finals.
func TestFinalJoinsSeveralResults(t *testing.T) {
	res := func(text string, conf float32) *speechpb.StreamingRecognitionResult {
		return &speechpb.StreamingRecognitionResult{IsFinal: true,
			Alternatives: []*speechpb.SpeechRecognitionAlternative{{Transcript: text, Confidence: conf}}}
	}
	s := &stream{gs: &vendorkit.Grammars{}, finals: []*speechpb.StreamingRecognitionResult{
		res("I would like ", 0.8), res(" technical support", 0.6)}}
	f := s.final()
	if len(f.Alternatives) != 1 {
		t.Fatalf("alternatives %+v", f.Alternatives)
	}
	a := f.Alternatives[0]
	if a.Text != "I would like technical support" || a.Mode != "speech" || a.Confidence < 0.69 || a.Confidence > 0.71 {
		t.Fatalf("got %+v", a)
	}
}
