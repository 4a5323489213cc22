package plugin

import (
	"encoding/binary"
	"slices"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	pb "github.com/mrcpd/mrcpd/asr/pluginpb"
)

// PCM crosses as little-endian bytes: one protobuf bytes field per batch is far cheaper to encode
// than a packed repeated integer. Four samples go per 64-bit load or store, which halves the cost
// of the conversions that touch every sample on both sides.
func appendPCM(dst []byte, pcm []int16) []byte {
	n := len(dst)
	dst = slices.Grow(dst, 2*len(pcm))[:n+2*len(pcm)]
	b := dst[n:]
	for len(pcm) >= 4 && len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, uint64(uint16(pcm[0]))|uint64(uint16(pcm[1]))<<16|
			uint64(uint16(pcm[2]))<<32|uint64(uint16(pcm[3]))<<48)
		pcm, b = pcm[4:], b[8:]
	}
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	return dst
}

func decodePCM(b []byte) []int16 { return appendDecodedPCM(nil, b) }

// appendDecodedPCM appends the samples of b to dst, so that a caller can decode into a buffer
// it reuses.
func appendDecodedPCM(dst []int16, b []byte) []int16 {
	n := len(dst)
	dst = slices.Grow(dst, len(b)/2)[:n+len(b)/2]
	p := dst[n:]
	for len(p) >= 4 && len(b) >= 8 {
		v := binary.LittleEndian.Uint64(b)
		p[0], p[1], p[2], p[3] = int16(v), int16(v>>16), int16(v>>32), int16(v>>48)
		p, b = p[4:], b[8:]
	}
	for i := range p {
		p[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return dst
}

func ms(d time.Duration) int64   { return d.Milliseconds() }
func dur(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }
func ints32(v []int) []int32 {
	r := make([]int32, len(v))
	for i, x := range v {
		r[i] = int32(x)
	}
	return r
}
func ints(v []int32) []int {
	r := make([]int, len(v))
	for i, x := range v {
		r[i] = int(x)
	}
	return r
}

func recInfoToPB(i asr.RecognizerInfo) *pb.RecognizerInfo {
	return &pb.RecognizerInfo{
		Name: i.Name, Streaming: i.Streaming, InterimResults: i.InterimResults, SpeechEvents: i.SpeechEvents,
		Finalize: i.Finalize, GrammarTypes: i.GrammarTypes, Builtins: i.Builtins,
		MaxAlternatives: int32(i.MaxAlternatives), Languages: i.Languages, SampleRates: ints32(i.SampleRates),
		MaxStreamDurationMs: ms(i.MaxStreamDuration), IdleTimeoutMs: ms(i.IdleTimeout),
	}
}

func recInfoFromPB(i *pb.RecognizerInfo) asr.RecognizerInfo {
	return asr.RecognizerInfo{
		Name: i.Name, Streaming: i.Streaming, InterimResults: i.InterimResults, SpeechEvents: i.SpeechEvents,
		Finalize: i.Finalize, GrammarTypes: i.GrammarTypes, Builtins: i.Builtins,
		MaxAlternatives: int(i.MaxAlternatives), Languages: i.Languages, SampleRates: ints(i.SampleRates),
		MaxStreamDuration: dur(i.MaxStreamDurationMs), IdleTimeout: dur(i.IdleTimeoutMs),
	}
}

func startToPB(r asr.RecognizeRequest) *pb.RecognizeStart {
	s := &pb.RecognizeStart{
		ChannelId: r.ChannelID, Language: r.Language, SampleRate: int32(r.SampleRate), Interim: r.Interim,
		Hints: r.Hints, NBest: int32(r.NBest), ConfidenceThreshold: r.ConfidenceThreshold,
		Sensitivity: r.Sensitivity, Params: r.Params,
	}
	for _, g := range r.Grammars {
		s.Grammars = append(s.Grammars, &pb.Grammar{Id: g.ID, Uri: g.URI, ContentType: g.ContentType,
			Body: g.Body, Weight: g.Weight, Mode: g.Mode})
	}
	return s
}

func startFromPB(s *pb.RecognizeStart) asr.RecognizeRequest {
	r := asr.RecognizeRequest{
		ChannelID: s.ChannelId, Language: s.Language, SampleRate: int(s.SampleRate), Interim: s.Interim,
		Hints: s.Hints, NBest: int(s.NBest), ConfidenceThreshold: s.ConfidenceThreshold,
		Sensitivity: s.Sensitivity, Params: s.Params,
	}
	for _, g := range s.Grammars {
		r.Grammars = append(r.Grammars, asr.Grammar{ID: g.Id, URI: g.Uri, ContentType: g.ContentType,
			Body: g.Body, Weight: g.Weight, Mode: g.Mode})
	}
	return r
}

func errorToPB(err error) *pb.Error {
	if e, ok := asError(err); ok {
		return &pb.Error{Kind: e.Kind.String(), Message: e.Message, Retryable: e.Retryable}
	}
	return &pb.Error{Kind: asr.ErrInternal.String(), Message: err.Error()}
}

func errorFromPB(e *pb.Error) *asr.Error {
	return &asr.Error{Kind: kindFromString(e.Kind), Message: e.Message, Retryable: e.Retryable}
}

func kindFromString(s string) asr.ErrorKind {
	for k := asr.ErrInternal; k <= asr.ErrLanguage+16; k++ {
		if k.String() == s {
			return k
		}
	}
	return asr.ErrInternal
}

func eventToPB(ev asr.Event) *pb.RecognizeEvent {
	switch e := ev.(type) {
	case *asr.Ready:
		r := &pb.Ready{Params: e.Params}
		for _, s := range e.Skipped {
			r.Skipped = append(r.Skipped, &pb.SkippedGrammar{Id: s.ID, Reason: s.Reason})
		}
		return &pb.RecognizeEvent{Event: &pb.RecognizeEvent_Ready{Ready: r}}
	case *asr.SpeechStarted:
		return &pb.RecognizeEvent{Event: &pb.RecognizeEvent_SpeechStarted{SpeechStarted: &pb.SpeechStarted{AtMs: ms(e.At)}}}
	case *asr.SpeechEnded:
		return &pb.RecognizeEvent{Event: &pb.RecognizeEvent_SpeechEnded{SpeechEnded: &pb.SpeechEnded{AtMs: ms(e.At)}}}
	case *asr.Partial:
		return &pb.RecognizeEvent{Event: &pb.RecognizeEvent_Partial{Partial: &pb.Partial{Text: e.Text}}}
	case *asr.Final:
		f := &pb.Final{}
		for _, a := range e.Alternatives {
			pa := &pb.Alternative{Text: a.Text, Confidence: a.Confidence, Interpretation: a.Interpretation,
				Grammar: a.Grammar, Mode: a.Mode}
			for _, w := range a.Words {
				pa.Words = append(pa.Words, &pb.Word{Text: w.Text, StartMs: ms(w.Start), EndMs: ms(w.End), Confidence: w.Confidence})
			}
			f.Alternatives = append(f.Alternatives, pa)
		}
		return &pb.RecognizeEvent{Event: &pb.RecognizeEvent_Final{Final: f}}
	case *asr.Usage:
		return &pb.RecognizeEvent{Event: &pb.RecognizeEvent_Usage{Usage: &pb.Usage{AudioMs: ms(e.Audio)}}}
	}
	return nil
}

// eventFromPB converts an event; an Error event comes back as err.
func eventFromPB(ev *pb.RecognizeEvent) (asr.Event, error) {
	switch e := ev.Event.(type) {
	case *pb.RecognizeEvent_Ready:
		r := &asr.Ready{Params: e.Ready.Params}
		for _, s := range e.Ready.Skipped {
			r.Skipped = append(r.Skipped, asr.SkippedGrammar{ID: s.Id, Reason: s.Reason})
		}
		return r, nil
	case *pb.RecognizeEvent_SpeechStarted:
		return &asr.SpeechStarted{At: dur(e.SpeechStarted.AtMs)}, nil
	case *pb.RecognizeEvent_SpeechEnded:
		return &asr.SpeechEnded{At: dur(e.SpeechEnded.AtMs)}, nil
	case *pb.RecognizeEvent_Partial:
		return &asr.Partial{Text: e.Partial.Text}, nil
	case *pb.RecognizeEvent_Final:
		f := &asr.Final{}
		for _, a := range e.Final.Alternatives {
			alt := asr.Alternative{Text: a.Text, Confidence: a.Confidence, Interpretation: a.Interpretation,
				Grammar: a.Grammar, Mode: a.Mode}
			for _, w := range a.Words {
				alt.Words = append(alt.Words, asr.Word{Text: w.Text, Start: dur(w.StartMs), End: dur(w.EndMs), Confidence: w.Confidence})
			}
			f.Alternatives = append(f.Alternatives, alt)
		}
		return f, nil
	case *pb.RecognizeEvent_Usage:
		return &asr.Usage{Audio: dur(e.Usage.AudioMs)}, nil
	case *pb.RecognizeEvent_Error:
		return nil, errorFromPB(e.Error)
	}
	return nil, asr.Errorf(asr.ErrInternal, false, "plugin sent an empty or unknown event")
}

func synInfoToPB(i asr.SynthesizerInfo) *pb.SynthesizerInfo {
	r := &pb.SynthesizerInfo{Name: i.Name, SampleRates: ints32(i.SampleRates), Ssml: i.SSML, Marks: i.Marks}
	for _, v := range i.Voices {
		r.Voices = append(r.Voices, &pb.Voice{Name: v.Name, Gender: v.Gender, Language: v.Language})
	}
	return r
}

func synInfoFromPB(i *pb.SynthesizerInfo) asr.SynthesizerInfo {
	r := asr.SynthesizerInfo{Name: i.Name, SampleRates: ints(i.SampleRates), SSML: i.Ssml, Marks: i.Marks}
	for _, v := range i.Voices {
		r.Voices = append(r.Voices, asr.Voice{Name: v.Name, Gender: v.Gender, Language: v.Language})
	}
	return r
}

func synStartToPB(r asr.SynthesizeRequest) *pb.SynthesizeStart {
	return &pb.SynthesizeStart{ChannelId: r.ChannelID, ContentType: r.ContentType, Text: r.Text, Voice: r.Voice,
		Gender: r.Gender, Language: r.Language, Rate: r.Rate, Volume: r.Volume, Pitch: r.Pitch,
		SampleRate: int32(r.SampleRate), Params: r.Params}
}

func synStartFromPB(s *pb.SynthesizeStart) asr.SynthesizeRequest {
	return asr.SynthesizeRequest{ChannelID: s.ChannelId, ContentType: s.ContentType, Text: s.Text, Voice: s.Voice,
		Gender: s.Gender, Language: s.Language, Rate: s.Rate, Volume: s.Volume, Pitch: s.Pitch,
		SampleRate: int(s.SampleRate), Params: s.Params}
}
