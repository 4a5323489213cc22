package plugin

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mrcpd/mrcpd/asr"
	pb "github.com/mrcpd/mrcpd/asr/pluginpb"
)

// FuzzRecognizeEvent feeds the host's event decoder what a broken or hostile plugin could send:
// it must turn anything into an event or a typed error, never panic.
func FuzzRecognizeEvent(f *testing.F) {
	for _, ev := range []asr.Event{
		&asr.Ready{Params: map[string]string{"a": "b"}, Skipped: []asr.SkippedGrammar{{ID: "g", Reason: "r"}}},
		&asr.Final{Alternatives: []asr.Alternative{{Text: "yes", Confidence: 0.9, Words: []asr.Word{{Text: "yes"}}}}},
		&asr.SpeechStarted{At: 1}, &asr.Partial{Text: "ye"}, &asr.Usage{Audio: 5},
	} {
		b, err := proto.Marshal(eventToPB(ev))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m pb.RecognizeEvent
		if proto.Unmarshal(b, &m) != nil {
			return
		}
		ev, err := eventFromPB(&m)
		if (ev == nil) == (err == nil) {
			t.Fatalf("event %v and error %v", ev, err)
		}
		if err != nil && asr.KindOf(err) == asr.ErrInternal && m.GetError() != nil && m.GetError().Kind != "internal" && kindFromString(m.GetError().Kind) != asr.ErrInternal {
			t.Fatalf("kind lost: %v", err)
		}
	})
}

// FuzzStreamInput does the same for the plugin side's input decoder.
func FuzzStreamInput(f *testing.F) {
	for _, e := range []*pb.StreamInput{
		{StreamId: 1, Pcm: []byte{1, 0, 2, 0}},
		{StreamId: 2, Input: &pb.RecognizeInput{Input: &pb.RecognizeInput_Dtmf{Dtmf: &pb.DTMF{Digit: "5"}}}},
		{StreamId: 3, Input: &pb.RecognizeInput{Input: &pb.RecognizeInput_Finalize{Finalize: &pb.Finalize{}}}},
	} {
		b, err := proto.Marshal(&pb.InputBatch{Inputs: []*pb.StreamInput{e}})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m pb.InputBatch
		if proto.Unmarshal(b, &m) != nil {
			return
		}
		for _, e := range m.Inputs {
			if e.Input != nil {
				inputFromPB(e.Input)
				continue
			}
			if pcm := decodePCM(e.Pcm); len(pcm) != len(e.Pcm)/2 {
				t.Fatalf("%d samples from %d bytes", len(pcm), len(e.Pcm))
			}
		}
	})
}
