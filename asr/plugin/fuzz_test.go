package plugin

import (
	"bytes"
	"slices"
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
		{StreamId: 4, Pcm: []byte{1, 0x80, 2, 0xff, 3, 0, 4, 0x7f, 5, 0, 6}},
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
			pcm := decodePCM(e.Pcm)
			if len(pcm) != len(e.Pcm)/2 {
				t.Fatalf("%d samples from %d bytes", len(pcm), len(e.Pcm))
			}
			if back := appendPCM(nil, pcm); !bytes.Equal(back, e.Pcm[:2*len(pcm)]) {
				t.Fatalf("round trip %x -> %x", e.Pcm, back)
			}
		}
	})
}

// FuzzInputBatchAudio feeds the plugin's batch splitter audio fields that do not add up: it must
// deliver only whole, in-bounds segments, never panic.
func FuzzInputBatchAudio(f *testing.F) {
	for _, b := range []*pb.InputBatch{
		{Audio: []byte{1, 0, 2, 0, 3, 0}, AudioStreams: []uint64{1, 2}, AudioLengths: []uint32{2, 4}},
		{Audio: []byte{1, 0}, AudioStreams: []uint64{1, 2}, AudioLengths: []uint32{2, 4}},
		{Audio: []byte{1, 0, 2}, AudioStreams: []uint64{2}, AudioLengths: []uint32{3}},
	} {
		raw, err := proto.Marshal(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var b pb.InputBatch
		if proto.Unmarshal(raw, &b) != nil {
			return
		}
		for _, e := range b.Inputs {
			if e.Input.GetStart() != nil {
				return // starting a stream needs an engine
			}
		}
		p := &pluginSession{streams: map[uint64]*pluginStream{1: {cancel: func() {}}, 2: {cancel: func() {}}}}
		total := 0
		for _, d := range p.flatten(&b, nil, &arena{}) {
			if a, ok := d.in.(*asr.Audio); ok {
				total += 2 * len(a.PCM)
			}
		}
		pcmEntries := 0
		for _, e := range b.Inputs {
			if e.Input == nil && p.streams[e.StreamId] != nil {
				pcmEntries += len(e.Pcm) / 2 * 2
			}
		}
		if total > len(b.Audio)+pcmEntries {
			t.Fatalf("delivered %d bytes of audio from %d", total, len(b.Audio)+pcmEntries)
		}
	})
}

// FuzzUnmarshalInputBatch checks the plugin's InputBatch decoder against proto.Unmarshal, with
// the message in one piece, in 7-byte pieces and in 1-byte pieces, so that every field, varint
// and sample straddles a piece boundary somewhere.
func FuzzUnmarshalInputBatch(f *testing.F) {
	for _, b := range []*pb.InputBatch{
		{Audio: []byte{1, 0, 2, 0, 3, 0}, AudioStreams: []uint64{1, 300}, AudioLengths: []uint32{2, 4}},
		{Inputs: []*pb.StreamInput{{StreamId: 2, Pcm: []byte{1, 2}}, {StreamId: 3, Input: &pb.RecognizeInput{
			Input: &pb.RecognizeInput_Finalize{Finalize: &pb.Finalize{}}}}}, Audio: []byte{9, 9}},
	} {
		raw, err := proto.Marshal(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want pb.InputBatch
		werr := proto.Unmarshal(raw, &want)
		want.ProtoReflect().SetUnknown(nil)
		var got pb.InputBatch // reused across the splits, as the plugin reuses it
		for _, size := range []int{len(raw), 7, 1} {
			var pieces [][]byte
			for rest := raw; len(rest) > 0; {
				k := min(max(size, 1), len(rest))
				pieces, rest = append(pieces, rest[:k]), rest[k:]
			}
			audio, gerr := unmarshalInputBatch(pieces, &got, nil)
			if (werr == nil) != (gerr == nil) {
				t.Fatalf("%d-byte pieces: errors differ: proto %v, ours %v", size, werr, gerr)
			}
			if werr != nil {
				continue
			}
			var joined []byte
			for _, a := range audio {
				joined = append(joined, a...)
			}
			if got.Audio != nil {
				t.Fatalf("%d-byte pieces: Audio set; it belongs in the slices returned", size)
			}
			got.Audio = joined
			if !proto.Equal(&want, &got) {
				t.Fatalf("%d-byte pieces: decoded %v, proto.Unmarshal %v", size, &got, &want)
			}
			if pcm, wpcm := appendDecodedPieces(nil, audio), decodePCM(want.Audio); !slices.Equal(pcm, wpcm) {
				t.Fatalf("%d-byte pieces: samples %v, want %v", size, pcm, wpcm)
			}
		}
	})
}
