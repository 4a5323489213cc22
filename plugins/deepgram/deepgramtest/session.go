package deepgramtest

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/mrcpd/mrcpd/plugins/internal/vendorkit"
)

// session is one /v1/listen connection.
type session struct {
	srv    *Server
	c      *websocket.Conn
	o      options
	script Script
	fail   Failure
	idle   time.Duration
	l      vendorkit.Listener

	samples   int
	finalized int // words of the transcript already sent with is_final
	shown     string
	ended     bool
}

type inbound struct {
	typ websocket.MessageType
	b   []byte
	err error
}

func (s *session) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer s.c.CloseNow()
	in := make(chan inbound)
	go func() {
		for {
			typ, b, err := s.c.Read(ctx)
			select {
			case in <- inbound{typ, b, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	idle := time.NewTimer(s.idle)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-idle.C:
			s.c.Close(websocket.StatusInternalError, "NET-0001: Deepgram did not receive audio data or a text message within the timeout window.")
			return
		case m := <-in:
			if m.err != nil {
				return
			}
			idle.Reset(s.idle)
			if m.typ == websocket.MessageBinary {
				if !s.audio(ctx, m.b) {
					return
				}
				continue
			}
			var ctl struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(m.b, &ctl) != nil {
				s.c.Close(websocket.StatusPolicyViolation, "DATA-0000: text frames must be JSON control messages.")
				return
			}
			switch ctl.Type {
			case "KeepAlive":
				s.srv.mu.Lock()
				s.srv.kas++
				s.srv.mu.Unlock()
			case "Finalize":
				s.results(ctx, true, false, true)
			case "CloseStream":
				s.results(ctx, true, false, false)
				s.send(ctx, map[string]any{"type": "Metadata", "transaction_key": "deprecated",
					"request_id": "00000000-0000-0000-0000-000000000000", "sha256": "", "created": "2026-01-01T00:00:00.000Z",
					"duration": s.l.Now().Seconds(), "channels": 1})
				s.c.Close(websocket.StatusNormalClosure, "")
				return
			default:
				s.c.Close(websocket.StatusPolicyViolation, "DATA-0000: unknown control message type "+ctl.Type)
				return
			}
		}
	}
}

func (s *session) send(ctx context.Context, v any) {
	b, _ := json.Marshal(v)
	s.c.Write(ctx, websocket.MessageText, b)
}

// audio feeds the listener and reports false when the connection is over.
func (s *session) audio(ctx context.Context, b []byte) bool {
	if s.fail == FailData {
		s.c.Close(websocket.StatusPolicyViolation, "DATA-0000: The payload cannot be decoded as audio.")
		return false
	}
	pcm := vendorkit.DecodePCM(b)
	s.samples += len(pcm)
	for _, ev := range s.l.Feed(pcm) {
		switch ev {
		case vendorkit.SpeechBegin:
			if s.fail == FailDrop {
				s.c.CloseNow() // no close frame: the network went away
				return false
			}
			if s.o.vad {
				start, _ := s.l.Span()
				s.send(ctx, map[string]any{"type": "SpeechStarted", "channel": []int{0}, "timestamp": start.Seconds()})
			}
		case vendorkit.SpeechEnd:
			// Endpointing finalizes with speech_final; without it only UtteranceEnd marks the end.
			s.results(ctx, true, s.o.endpointing > 0, false)
			if s.o.utteranceEnd > 0 {
				_, end := s.l.Span()
				s.send(ctx, map[string]any{"type": "UtteranceEnd", "channel": []int{0, 1}, "last_word_end": end.Seconds()})
			}
			s.ended = true
		}
	}
	if !s.l.Heard() || s.ended {
		return true
	}
	words := strings.Fields(s.script.Transcript)
	shown := len(strings.Fields(s.l.Partial(s.script.Transcript)))
	if shown-s.finalized >= 3 {
		// A long stretch of speech is finalized in segments before the utterance ends.
		s.segment(ctx, s.finalized, words[s.finalized:shown], true, false, false)
		s.finalized = shown
		return true
	}
	if p := strings.Join(words[s.finalized:shown], " "); s.o.interim && p != "" && p != s.shown {
		s.shown = p
		s.segment(ctx, s.finalized, words[s.finalized:shown], false, false, false)
	}
	return true
}

// results finalizes the rest of the transcript (empty when nothing was heard).
func (s *session) results(ctx context.Context, final, speechFinal, fromFinalize bool) {
	words := strings.Fields(s.script.Transcript)
	if !s.l.Heard() {
		words = nil
	}
	first := min(s.finalized, len(words))
	s.finalized = len(words)
	s.segment(ctx, first, words[first:], final, speechFinal, fromFinalize)
}

// segment sends one Results message for words of the transcript.
func (s *session) segment(ctx context.Context, first int, words []string, final, speechFinal, fromFinalize bool) {
	timed := s.l.Words(s.script.Transcript)
	type word struct {
		Word           string  `json:"word"`
		Start          float64 `json:"start"`
		End            float64 `json:"end"`
		Confidence     float64 `json:"confidence"`
		PunctuatedWord string  `json:"punctuated_word"`
	}
	type alt struct {
		Transcript string  `json:"transcript"`
		Confidence float64 `json:"confidence"`
		Words      []word  `json:"words"`
	}
	var ws []word
	for i, w := range words {
		tw := vendorkit.TimedWord{Word: w}
		if j := first + i; j >= 0 && j < len(timed) {
			tw = timed[j]
		}
		ws = append(ws, word{Word: w, Start: tw.Start.Seconds(), End: tw.End.Seconds(), Confidence: s.script.Conf(), PunctuatedWord: w})
	}
	text := strings.Join(words, " ")
	alts := []alt{{Transcript: text, Confidence: s.script.Conf(), Words: ws}}
	if text != "" && first == 0 && len(words) == len(strings.Fields(s.script.Transcript)) {
		for _, a := range s.script.Alternatives[:min(len(s.script.Alternatives), s.o.alternatives-1)] {
			alts = append(alts, alt{Transcript: a, Confidence: s.script.Conf() / 2, Words: []word{}})
		}
	}
	start, now := time.Duration(0), s.l.Now()
	if len(ws) > 0 {
		start = time.Duration(ws[0].Start * float64(time.Second))
	}
	msg := map[string]any{
		"type": "Results", "channel_index": []int{0, 1}, "duration": (now - start).Seconds(), "start": start.Seconds(),
		"is_final": final, "speech_final": speechFinal, "from_finalize": fromFinalize,
		"channel": map[string]any{"alternatives": alts},
		"metadata": map[string]any{"request_id": "00000000-0000-0000-0000-000000000000",
			"model_info": map[string]string{"name": s.o.model, "version": "stand-in", "arch": "stand-in"}, "model_uuid": "00000000-0000-0000-0000-000000000000"},
	}
	s.send(ctx, msg)
}
