package server

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/mrcp"
)

// synthesizer is the speechsynth resource of RFC 6787 §8. States (§8.1): IDLE (active == nil),
// SPEAKING, PAUSED; further SPEAKs wait in queue, answered PENDING.
type synthesizer struct {
	ch     *channel
	active *utterance
	queue  []queued
	paused bool
}

// utterance is one SPEAK being synthesized and played.
type utterance struct {
	id     uint32
	req    *mrcp.Message
	cancel context.CancelFunc
	done   bool
	began  time.Time    // synthesis started (after any queue)
	first  atomic.Int64 // Unix ns of the first audio at the pacer, set by the pump
}

// queued is a SPEAK waiting in PENDING with the synthesizer chosen when it arrived.
type queued struct {
	m     *mrcp.Message
	synth asr.Synthesizer
}

func newSynthesizer(ch *channel) *synthesizer { return &synthesizer{ch: ch} }

func (s *synthesizer) dtmf(rune) {}

func (s *synthesizer) inputSince() (time.Time, bool) { return time.Time{}, false }

func (s *synthesizer) request(m *mrcp.Message) (*mrcp.Message, error) {
	switch m.Name {
	case mrcp.MethodSpeak:
		return s.speak(m)
	case mrcp.MethodStop:
		return s.stopRequest(m), nil
	case mrcp.MethodPause:
		return s.pause(m)
	case mrcp.MethodResume:
		return s.resume(m)
	case mrcp.MethodBargeInOccurred:
		return s.bargeIn(m)
	case mrcp.MethodControl:
		return s.control(m)
	}
	return nil, &mrcp.StatusError{Code: mrcp.Status407, Reason: m.Name + " is not implemented"}
}

var speakTypes = map[string]bool{"text/plain": true, "application/ssml+xml": true, "application/synthesis+ssml": true}

// speak implements §8.5.
func (s *synthesizer) speak(m *mrcp.Message) (*mrcp.Message, error) {
	ct, _, _ := strings.Cut(strings.ToLower(m.Header.Value(mrcp.HeaderContentType)), ";")
	if !speakTypes[strings.TrimSpace(ct)] {
		return nil, &mrcp.StatusError{Code: mrcp.Status409, Header: mrcp.HeaderContentType, Reason: "SPEAK body must be text/plain or SSML"}
	}
	if len(m.Body) == 0 {
		return nil, &mrcp.StatusError{Code: mrcp.Status406, Header: mrcp.HeaderContentLength, Reason: "SPEAK without content"}
	}
	p := &params{ch: s.ch, m: m}
	p.bool(mrcp.HeaderKillOnBargeIn)
	voice := p.raw(mrcp.HeaderVoiceName)
	if p.err != nil {
		return nil, p.err
	}
	// The engine is chosen once, here: a queued SPEAK plays on it even if a reload comes first.
	synth, err := s.ch.se.synthesizerFor(requestEngine(s.ch, m), voice)
	if err != nil || s.sender() == nil {
		resp := completeWith(m, mrcp.Status407, mrcp.SynthError.String())
		if err != nil {
			resp.Header.Set(mrcp.HeaderCompletionReason, oneLine(err.Error()))
		}
		return resp, nil
	}
	if s.active != nil {
		s.queue = append(s.queue, queued{m, synth})
		return m.NewResponse(mrcp.Status200, mrcp.StatePending), nil
	}
	s.ch.send(m.NewResponse(mrcp.Status200, mrcp.StateInProgress))
	s.start(m, synth)
	return nil, nil
}

func (s *synthesizer) sender() media.Output {
	if s.ch.audio == nil || s.ch.audio.stream == nil {
		return nil
	}
	return s.ch.audio.stream.Output()
}

// start synthesizes m and plays it; the pump reports back on the session goroutine.
func (s *synthesizer) start(m *mrcp.Message, synth asr.Synthesizer) {
	se := s.ch.se
	ctx, cancel := context.WithCancel(se.ctx)
	u := &utterance{id: m.RequestID, req: m, cancel: cancel, began: se.srv.cfg.Clock.Now()}
	s.active = u
	if s.paused {
		s.sender().Resume()
		s.paused = false
	}
	p := &params{ch: s.ch, m: m}
	ct, _, _ := strings.Cut(m.Header.Value(mrcp.HeaderContentType), ";")
	req := asr.SynthesizeRequest{ChannelID: s.ch.id, ContentType: strings.TrimSpace(ct), Text: string(m.Body),
		Voice: p.raw(mrcp.HeaderVoiceName), Gender: p.raw(mrcp.HeaderVoiceGender),
		Language: p.raw(mrcp.HeaderSpeechLanguage), Rate: p.raw(mrcp.HeaderProsodyRate),
		Volume: p.raw(mrcp.HeaderProsodyVolume), Pitch: p.raw(mrcp.HeaderProsodyPitch),
		SampleRate: se.srv.cfg.OutputRate}
	tx := s.sender()
	ptime := s.ch.audio.ptime
	if ptime <= 0 {
		ptime = 20 * time.Millisecond
	}
	clk, begun := se.srv.cfg.Clock, u.began
	first := func() {
		now := clk.Now()
		u.first.Store(now.UnixNano())
		se.srv.cfg.Metrics.speakFirstAudio(now.Sub(begun))
	}
	se.wg.Add(1)
	go func() {
		defer se.wg.Done()
		err := pump(ctx, synth, req, tx, first)
		if err != nil {
			se.post(func() { s.finished(u, err) })
			return
		}
		// The last packet has left; its audio plays for one ptime more. SPEAK-COMPLETE then
		// never overtakes the audio, even when the client reads RTP and TCP in parallel.
		se.after(ptime, func() { s.finished(u, nil) })
	}()
}

// pump moves the engine's audio into the paced sender and returns once the last packet has left
// (SPEAK-COMPLETE must not overtake the audio, §8.5).
// first is called when the first audio has been handed to the pacer.
func pump(ctx context.Context, synth asr.Synthesizer, req asr.SynthesizeRequest, tx media.Output, first func()) error {
	stream, err := synth.Synthesize(ctx, req)
	if err != nil {
		return err
	}
	defer stream.Close()
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if a, ok := ev.(*asr.SynthAudio); ok {
			if err := tx.Write(a.PCM); err != nil {
				return err
			}
			if first != nil && len(a.PCM) > 0 {
				first()
				first = nil
			}
		}
	}
	select {
	case <-tx.End():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// finished sends SPEAK-COMPLETE (§8.9) and starts the next queued SPEAK.
func (s *synthesizer) finished(u *utterance, err error) {
	if s.active != u || u.done {
		return // stopped: STOP/BARGE-IN answered for it, no event
	}
	u.done = true
	u.cancel()
	s.active = nil
	cause := mrcp.SynthNormal
	if err != nil {
		s.ch.log.Warn("SPEAK failed", "request-id", u.id, "err", err)
		cause = mrcp.SynthError
		if asr.KindOf(err) == asr.ErrLanguage {
			cause = mrcp.SynthLanguageUnsupported
		}
	}
	ev := s.ch.event(mrcp.EventSpeakComplete, u.id, mrcp.StateComplete)
	ev.Header.Set(mrcp.HeaderCompletionCause, cause.String())
	s.ch.se.srv.cfg.Metrics.completion(ResourceSynth, cause.String())
	s.record(u, endComplete, cause.String())
	s.ch.send(ev)
	s.next()
}

// next starts the head of the queue: §8.8 says a request leaving PENDING is announced with a
// SPEECH-MARKER in IN-PROGRESS state.
func (s *synthesizer) next() {
	if len(s.queue) == 0 {
		return
	}
	q := s.queue[0]
	s.queue = s.queue[1:]
	s.ch.send(s.ch.event(mrcp.EventSpeechMarker, q.m.RequestID, mrcp.StateInProgress))
	s.start(q.m, q.synth)
}

// kill stops the requests listed (all when no list), without SPEAK-COMPLETE, and returns their ids.
func (s *synthesizer) kill(m *mrcp.Message) []uint32 {
	var ids []uint32
	keep := s.queue[:0]
	for _, q := range s.queue {
		if listed(m, q.m.RequestID) {
			ids = append(ids, q.m.RequestID)
		} else {
			keep = append(keep, q)
		}
	}
	s.queue = keep
	if u := s.active; u != nil && listed(m, u.id) {
		ids = append([]uint32{u.id}, ids...)
		u.done = true
		u.cancel()
		s.active = nil
		s.record(u, endStop, "")
		if tx := s.sender(); tx != nil {
			tx.Flush()
			if s.paused {
				tx.Resume()
				s.paused = false
			}
		}
		s.next()
	}
	return ids
}

// stopRequest implements §8.6.
func (s *synthesizer) stopRequest(m *mrcp.Message) *mrcp.Message {
	resp := m.NewResponse(mrcp.Status200, mrcp.StateComplete)
	if ids := s.kill(m); len(ids) > 0 {
		resp.Header.SetActiveRequestIDs(ids...)
	}
	return resp
}

// bargeIn implements §8.10: with Kill-On-Barge-In (default true) the prompt stops like on STOP.
func (s *synthesizer) bargeIn(m *mrcp.Message) (*mrcp.Message, error) {
	resp := m.NewResponse(mrcp.Status200, mrcp.StateComplete)
	if s.active == nil {
		return resp, nil
	}
	p := &params{ch: s.ch, m: s.active.req}
	if !p.bool(mrcp.HeaderKillOnBargeIn) {
		return resp, nil
	}
	all := &mrcp.Message{}
	if ids := s.kill(all); len(ids) > 0 {
		resp.Header.SetActiveRequestIDs(ids...)
	}
	return resp, nil
}

// pause and resume implement §8.7 and §8.8 (402 when nothing is speaking / paused).
func (s *synthesizer) pause(m *mrcp.Message) (*mrcp.Message, error) {
	if s.active == nil {
		return nil, &mrcp.StatusError{Code: mrcp.Status402, Reason: "PAUSE while not speaking"}
	}
	if !s.paused {
		s.sender().Pause()
		s.paused = true
	}
	resp := m.NewResponse(mrcp.Status200, mrcp.StateComplete)
	resp.Header.SetActiveRequestIDs(s.active.id)
	return resp, nil
}

func (s *synthesizer) resume(m *mrcp.Message) (*mrcp.Message, error) {
	if s.active == nil || !s.paused {
		return nil, &mrcp.StatusError{Code: mrcp.Status402, Reason: "RESUME while not paused"}
	}
	s.sender().Resume()
	s.paused = false
	resp := m.NewResponse(mrcp.Status200, mrcp.StateComplete)
	resp.Header.SetActiveRequestIDs(s.active.id)
	return resp, nil
}

// control implements §8.11. Prosody changes apply to the next utterance (engines take them per
// request); Jump-Size is not supported (409).
func (s *synthesizer) control(m *mrcp.Message) (*mrcp.Message, error) {
	if s.active == nil {
		return nil, &mrcp.StatusError{Code: mrcp.Status402, Reason: "CONTROL while not speaking"}
	}
	if _, ok := m.Header.Get(mrcp.HeaderJumpSize); ok {
		return nil, &mrcp.StatusError{Code: mrcp.Status409, Header: mrcp.HeaderJumpSize, Reason: "not supported"}
	}
	resp := m.NewResponse(mrcp.Status200, mrcp.StateComplete)
	resp.Header.SetActiveRequestIDs(s.active.id)
	return resp, nil
}

func (s *synthesizer) stop() {
	if u := s.active; u != nil {
		u.done = true
		u.cancel()
		s.active = nil
		s.record(u, endSession, "")
	}
	s.queue = nil
}
