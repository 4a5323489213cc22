package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/plugins/internal/vendorkit"
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
	ctx    context.Context
	cancel context.CancelFunc
	conn   *websocket.Conn
	cfg    Config
	log    *slog.Logger
	rate   int
	gs     *vendorkit.Grammars

	writeMu sync.Mutex
	over    bool // the utterance ended: no more audio
	sent    int  // audio samples sent

	// Recv side only.
	queue    []asr.Event
	segments []asr.Alternative // is_final segments of the current utterance (best path)
	nbest    []asr.Alternative // alternatives of the last is_final segment
	spoke    bool
	finalOut bool
	// closeStream: the Final is queued and CloseStream is due; handle only decides, Recv writes.
	closeStream bool
	done        bool
	err         error
}

func newStream(ctx context.Context, conn *websocket.Conn, cfg Config, req asr.RecognizeRequest, gs *vendorkit.Grammars, q url.Values, log *slog.Logger) *stream {
	sctx, cancel := context.WithCancel(ctx)
	s := &stream{ctx: sctx, cancel: cancel, conn: conn, cfg: cfg, rate: req.SampleRate, gs: gs, log: log.With("channel", req.ChannelID)}
	params := map[string]string{}
	for k := range q {
		if k != "keywords" {
			params[k] = q.Get(k)
		}
	}
	s.queue = append(s.queue, &asr.Ready{Params: params})
	// The connection outlives the dial context; cancelling the stream closes it.
	go func() {
		<-sctx.Done()
		conn.CloseNow()
	}()
	return s
}

func (s *stream) write(typ websocket.MessageType, b []byte) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.writeLocked(typ, b)
}

func (s *stream) writeLocked(typ websocket.MessageType, b []byte) error {
	if err := s.conn.Write(s.ctx, typ, b); err != nil {
		return vendorkit.WriteFailed(s.ctx, "deepgram", err)
	}
	return nil
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
			if err := s.writeLocked(websocket.MessageBinary, vendorkit.AppendPCM(nil, c)); err != nil {
				return err
			}
			s.sent += len(c)
		}
		return nil
	case *asr.KeepAlive:
		return s.writeLocked(websocket.MessageText, msgKeepAlive)
	case *asr.FinalizeInput:
		return s.writeLocked(websocket.MessageText, msgFinalize)
	}
	return nil
}

func (s *stream) Recv() (asr.Event, error) {
	for len(s.queue) == 0 {
		if s.done {
			return nil, s.err
		}
		typ, b, err := s.conn.Read(s.ctx)
		if err != nil {
			s.closed(err)
			continue
		}
		if typ != websocket.MessageText {
			continue
		}
		var m message
		if err := json.Unmarshal(b, &m); err != nil {
			s.done, s.err = true, asr.Errorf(asr.ErrInternal, false, "deepgram: bad message %.80q: %v", b, err)
			s.cancel()
			continue
		}
		s.handle(&m)
		if s.closeStream {
			s.sendCloseStream()
		}
	}
	ev := s.queue[0]
	s.queue = s.queue[1:]
	return ev, nil
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
		s.queue = append(s.queue, &asr.Usage{Audio: secs(m.Duration)})
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
				s.queue = append(s.queue, &asr.Partial{Text: joinText(s.segments, alts[0].Transcript)})
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
		s.queue = append(s.queue, &asr.SpeechStarted{At: at})
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
		s.queue = append(s.queue, &asr.SpeechEnded{At: at})
	}
	s.queue = append(s.queue, s.final())
	s.closeStream = true
}

// sendCloseStream stops the audio and asks Deepgram to close after the Final.
func (s *stream) sendCloseStream() {
	s.closeStream = false
	s.writeMu.Lock()
	s.over = true
	err := s.writeLocked(websocket.MessageText, msgCloseStream)
	s.writeMu.Unlock()
	if err != nil {
		s.done, s.err = true, io.EOF // the result is out; a socket already gone changes nothing
		s.cancel()
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
	s.done = true
	defer s.cancel()
	defer func() {
		s.writeMu.Lock()
		sent := s.sent
		s.writeMu.Unlock()
		s.log.Debug("deepgram: stream ended", "audio_samples", sent, "segments", len(s.segments), "close", err, "err", s.err)
	}()
	if s.ctx.Err() != nil && !s.finalOut {
		s.err = s.ctx.Err()
		return
	}
	code := websocket.CloseStatus(err)
	if s.finalOut || code == websocket.StatusNormalClosure {
		if !s.finalOut {
			s.finalOut = true
			s.queue = append(s.queue, s.final())
		}
		s.err = io.EOF
		return
	}
	var ce websocket.CloseError
	reason := ""
	if errors.As(err, &ce) {
		reason = ce.Reason
	}
	switch {
	case code == websocket.StatusPolicyViolation:
		s.err = asr.Errorf(asr.ErrBadParameter, false, "deepgram: closed %d: %s", code, reason)
	case code == websocket.StatusInternalError && strings.Contains(reason, "NET-0001"):
		s.err = asr.Errorf(asr.ErrIdleTimeout, true, "deepgram: closed %d: %s", code, reason)
	case code >= 4000 && code < 5000:
		s.err = statusError(int(code)-4000, "deepgram: closed "+reason)
	case code == -1:
		s.err = asr.Errorf(asr.ErrUnavailable, true, "deepgram: connection lost: %v", err)
	default:
		s.err = asr.Errorf(asr.ErrUnavailable, true, "deepgram: closed %d: %s", code, reason)
	}
}

func (s *stream) Close() error {
	s.cancel()
	return nil
}
