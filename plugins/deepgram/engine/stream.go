package engine

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/plugins/internal/vendorkit"
	"github.com/mrcpd/mrcpd/plugins/internal/vendorkit/wsstream"
)

// Control messages, as Deepgram documents them (text frames).
var (
	msgKeepAlive   = []byte(`{"type":"KeepAlive"}`)
	msgFinalize    = []byte(`{"type":"Finalize"}`)
	msgCloseStream = []byte(`{"type":"CloseStream"}`)
)

// message is the union of what Deepgram sends: Results, SpeechStarted, UtteranceEnd, Metadata.
type message struct {
	Type         string  `json:"type"`
	IsFinal      bool    `json:"is_final"`
	SpeechFinal  bool    `json:"speech_final"`
	FromFinalize bool    `json:"from_finalize"`
	Start        float64 `json:"start"`
	Duration     float64 `json:"duration"`
	Timestamp    float64 `json:"timestamp"`     // SpeechStarted
	LastWordEnd  float64 `json:"last_word_end"` // UtteranceEnd
	Channel      struct {
		Alternatives []struct {
			Transcript string  `json:"transcript"`
			Confidence float64 `json:"confidence"`
			Words      []struct {
				Word       string  `json:"word"`
				Start      float64 `json:"start"`
				End        float64 `json:"end"`
				Confidence float64 `json:"confidence"`
			} `json:"words"`
		} `json:"alternatives"`
	} `json:"channel"`
}

// UnmarshalJSON tolerates "channel" being an index array (SpeechStarted, UtteranceEnd) rather than
// the Results object.
func (m *message) UnmarshalJSON(b []byte) error {
	type plain message
	var probe struct {
		Channel json.RawMessage `json:"channel"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return err
	}
	if len(probe.Channel) > 0 && probe.Channel[0] == '[' {
		var rest map[string]json.RawMessage
		if err := json.Unmarshal(b, &rest); err != nil {
			return err
		}
		delete(rest, "channel")
		b, _ = json.Marshal(rest)
	}
	return json.Unmarshal(b, (*plain)(m))
}

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// stream is one /v1/listen WebSocket. Send and Recv run on different goroutines; coder/websocket
// allows one concurrent reader and writer, and writeMu serialises the writes Recv makes (CloseStream).
type stream struct {
	wsstream.Socket
	cfg  Config
	log  *slog.Logger
	rate int
	gs   *vendorkit.Grammars

	writeMu sync.Mutex
	over    bool // the utterance ended: no more audio
	sent    int  // audio samples sent

	// Recv side only.
	segments []asr.Alternative // is_final segments of the current utterance (best path)
	nbest    []asr.Alternative // alternatives of the last is_final segment
	spoke    bool
	finalOut bool
	// closeStream: the Final is queued and CloseStream is due; handle only decides, Recv writes.
	closeStream bool
}

func newStream(ctx context.Context, conn *websocket.Conn, cfg Config, req asr.RecognizeRequest, gs *vendorkit.Grammars, q url.Values, log *slog.Logger) *stream {
	s := &stream{Socket: wsstream.New(ctx, "deepgram", conn), cfg: cfg, rate: req.SampleRate, gs: gs,
		log: log.With("channel", req.ChannelID)}
	params := map[string]string{}
	for k := range q {
		if k != "keywords" {
			params[k] = q.Get(k)
		}
	}
	s.Queue = append(s.Queue, &asr.Ready{Params: params})
	return s
}

func (s *stream) Send(in asr.Input) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.over {
		return nil
	}
	switch x := in.(type) {
	case *asr.Audio:
		if len(x.PCM) == 0 {
			return nil // an empty binary frame would close the stream
		}
		for _, c := range vendorkit.Chunks(x.PCM, s.rate/10) {
			if err := s.Write(websocket.MessageBinary, vendorkit.AppendPCM(nil, c)); err != nil {
				return err
			}
			s.sent += len(c)
		}
		return nil
	case *asr.KeepAlive:
		return s.Write(websocket.MessageText, msgKeepAlive)
	case *asr.FinalizeInput:
		return s.Write(websocket.MessageText, msgFinalize)
	}
	return nil
}

func (s *stream) Recv() (asr.Event, error) {
	return s.Socket.Recv(func(b []byte) error {
		var m message
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		s.handle(&m)
		if s.closeStream {
			s.sendCloseStream()
		}
		return nil
	}, s.closed)
}

// handle follows Deepgram's end-of-speech guidance: is_final segments accumulate; speech_final,
// a Finalize's from_finalize result, or UtteranceEnd after words end the utterance.
func (s *stream) handle(m *message) {
	switch m.Type {
	case "SpeechStarted":
		s.started(secs(m.Timestamp))
	case "UtteranceEnd":
		if len(s.segments) > 0 {
			s.end(secs(m.LastWordEnd))
		}
	case "Metadata":
		s.Queue = append(s.Queue, &asr.Usage{Audio: secs(m.Duration)})
	case "Results":
		if s.finalOut {
			return
		}
		alts := m.Channel.Alternatives
		if len(alts) > 0 && strings.TrimSpace(alts[0].Transcript) != "" {
			s.started(secs(m.Start))
		}
		if !m.IsFinal {
			if s.cfg.Interim && len(alts) > 0 && alts[0].Transcript != "" {
				s.Queue = append(s.Queue, &asr.Partial{Text: joinText(s.segments, alts[0].Transcript)})
			}
			return
		}
		if len(alts) > 0 && strings.TrimSpace(alts[0].Transcript) != "" {
			s.nbest = s.nbest[:0]
			for _, a := range alts {
				alt := asr.Alternative{Text: strings.TrimSpace(a.Transcript), Confidence: a.Confidence, Mode: "speech"}
				for _, w := range a.Words {
					alt.Words = append(alt.Words, asr.Word{Text: w.Word, Start: secs(w.Start), End: secs(w.End), Confidence: w.Confidence})
				}
				s.nbest = append(s.nbest, alt)
			}
			s.segments = append(s.segments, s.nbest[0])
		}
		if m.SpeechFinal || m.FromFinalize {
			s.end(secs(m.Start + m.Duration))
		}
	}
}

func joinText(segs []asr.Alternative, tail string) string {
	var parts []string
	for _, a := range segs {
		parts = append(parts, a.Text)
	}
	return strings.Join(strings.Fields(strings.Join(append(parts, tail), " ")), " ")
}

func (s *stream) started(at time.Duration) {
	if !s.spoke {
		s.spoke = true
		s.Queue = append(s.Queue, &asr.SpeechStarted{At: at})
	}
}

// end emits the utterance's Final and has Recv ask Deepgram to close: CloseStream makes it flush,
// send Metadata and close the socket normally, which Recv reports as io.EOF.
func (s *stream) end(at time.Duration) {
	if s.finalOut {
		return
	}
	s.finalOut = true
	if s.spoke {
		s.Queue = append(s.Queue, &asr.SpeechEnded{At: at})
	}
	s.Queue = append(s.Queue, s.final())
	s.closeStream = true
}

// sendCloseStream stops the audio and asks Deepgram to close after the Final.
func (s *stream) sendCloseStream() {
	s.closeStream = false
	s.writeMu.Lock()
	s.over = true
	err := s.Write(websocket.MessageText, msgCloseStream)
	s.writeMu.Unlock()
	if err != nil {
		s.End(io.EOF) // the result is out; a socket already gone changes nothing
	}
}

// final is the concatenation of the utterance's is_final segments; a single segment keeps its
// n-best list.
func (s *stream) final() *asr.Final {
	if len(s.segments) == 0 {
		return &asr.Final{}
	}
	var alts []asr.Alternative
	if len(s.segments) == 1 {
		alts = append(alts, s.nbest...)
	} else {
		best := vendorkit.Concat(s.segments)
		best.Text = joinText(s.segments, "") // Deepgram's segments may carry stray spaces
		alts = []asr.Alternative{best}
	}
	return &asr.Final{Alternatives: s.gs.Apply(alts)}
}

// closed handles the end of the socket. A normal close after the Final (or with nothing heard)
// ends the stream; anything else is classified by its close code: 1008 DATA-0000 (audio that
// cannot be decoded), 1011 NET-0001 (no audio or KeepAlive for 10 s), other 1011 (Deepgram
// internal), 4000+HTTP status, and no close frame at all (the connection dropped).
func (s *stream) closed(err error) {
	defer func() {
		s.writeMu.Lock()
		sent := s.sent
		s.writeMu.Unlock()
		s.log.Debug("deepgram: stream ended", "audio_samples", sent, "segments", len(s.segments), "close", err, "err", s.Err())
	}()
	emitFinal := func() {
		s.finalOut = true
		s.Queue = append(s.Queue, s.final())
	}
	s.Closed(err, s.finalOut, emitFinal, closeError)
}

// closeError is what Deepgram's close codes mean; nil for the rest.
func closeError(code websocket.StatusCode, reason string) error {
	switch {
	case code == websocket.StatusPolicyViolation:
		return asr.Errorf(asr.ErrBadParameter, false, "deepgram: closed %d: %s", code, reason)
	case code == websocket.StatusInternalError && strings.Contains(reason, "NET-0001"):
		return asr.Errorf(asr.ErrIdleTimeout, true, "deepgram: closed %d: %s", code, reason)
	case code >= 4000 && code < 5000:
		return statusError(int(code)-4000, "deepgram: closed "+reason)
	}
	return nil
}
