package server

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/capture"
)

// recorder is the recorder resource of RFC 6787 §10: IDLE or RECORDING (active != nil).
type recorder struct {
	ch     *channel
	active *recording
}

type recording struct {
	id              uint32
	started         time.Time
	timersOn        bool
	noInput         time.Duration
	maxTime         time.Duration
	finalSilence    time.Duration
	captureOnSpeech bool
	inputStarted    bool
	file            *capture.Writer // the WAV, written as the audio arrives
	tap             media.Tap       // on the channel's stream: VAD, then the file's writer
	disk            *tapFile
	on              media.Stream
	err             error // what ended the recording early
	noInputT        clock.Timer
	maxT            clock.Timer
	silenceT        clock.Timer
}

func newRecorder(ch *channel) *recorder { return &recorder{ch: ch} }

func (r *recorder) dtmf(rune) {}

func (r *recorder) inputSince() (time.Time, bool) {
	if r.active == nil {
		return time.Time{}, false
	}
	return r.active.started, true
}

func (r *recorder) request(m *mrcp.Message) (*mrcp.Message, error) {
	switch m.Name {
	case mrcp.MethodRecord:
		return r.record(m)
	case mrcp.MethodStop:
		return r.stopRequest(m), nil
	case mrcp.MethodStartInputTimers:
		if a := r.active; a != nil && !a.timersOn {
			a.timersOn = true
			r.armNoInput()
		}
		return m.NewResponse(mrcp.Status200, mrcp.StateComplete), nil
	}
	return nil, &mrcp.StatusError{Code: mrcp.Status407, Reason: m.Name + " is not implemented"}
}

// record implements §10.5.
func (r *recorder) record(m *mrcp.Message) (*mrcp.Message, error) {
	if r.active != nil {
		return nil, &mrcp.StatusError{Code: mrcp.Status402, Reason: "a recording is in progress"}
	}
	p := &params{ch: r.ch, m: m}
	a := &recording{id: m.RequestID, started: r.ch.se.srv.cfg.Clock.Now()}
	a.timersOn = p.bool(mrcp.HeaderStartInputTimers)
	a.noInput = p.ms(mrcp.HeaderNoInputTimeout)
	a.maxTime = p.ms(mrcp.HeaderMaxTime)
	a.finalSilence = p.ms(mrcp.HeaderFinalSilence)
	a.captureOnSpeech = p.bool(mrcp.HeaderCaptureOnSpeech)
	sens := p.unit(mrcp.HeaderSensitivityLevel)
	if p.err != nil {
		return nil, p.err
	}
	if mt := strings.ToLower(p.raw(mrcp.HeaderMediaType)); mt != "audio/wav" && mt != "audio/x-wav" {
		return nil, &mrcp.StatusError{Code: mrcp.Status409, Header: mrcp.HeaderMediaType, Reason: "only audio/wav is recorded"}
	}
	if r.ch.input() == nil {
		return nil, &mrcp.StatusError{Code: mrcp.Status407, Reason: "no audio stream to record"}
	}
	var err error
	if a.file, err = r.create(a.id); err != nil {
		r.ch.log.Error("recording not started", "err", err)
		if errors.Is(err, capture.ErrQuota) {
			return nil, &mrcp.StatusError{Code: mrcp.Status407, Reason: "recorder disk quota reached"}
		}
		return nil, &mrcp.StatusError{Code: mrcp.Status407, Reason: "cannot create the recording"}
	}
	r.active = a
	r.startTap(a, sens)
	r.ch.send(m.NewResponse(mrcp.Status200, mrcp.StateInProgress))
	if a.maxTime > 0 {
		a.maxT = r.after(a, a.maxTime, func() { r.complete(mrcp.RecordSuccessMaxtime, nil) })
	}
	if a.timersOn {
		r.armNoInput()
	}
	return nil, nil
}

func (r *recorder) after(a *recording, d time.Duration, f func()) clock.Timer {
	return r.ch.se.after(d, func() {
		if r.active == a {
			f()
		}
	})
}

func (r *recorder) armNoInput() {
	a := r.active
	if a.noInput > 0 && !a.inputStarted {
		a.noInputT = r.after(a, a.noInput, func() { r.complete(mrcp.RecordNoInputTimeout, nil) })
	}
}

// startTap installs the recording's tap: the media worker runs the endpointer and queues the
// frames for the file's goroutine (§10.4.8 Capture-On-Speech holds them back until speech); speech
// start and end, and a write that failed, come back to the session as events.
func (r *recorder) startTap(a *recording, sens float64) {
	se := r.ch.se
	a.disk = newTapFile(&se.wg, a.file, func(err error) {
		se.postEvent(func() {
			if r.active == a {
				// The quota is reached (or the disk failed): what is on disk is the recording.
				r.ch.log.Error("recording ended early", "err", err)
				a.err = err
				r.complete(mrcp.RecordError, nil)
			}
		})
	})
	a.tap = media.Tap{Writer: a.disk, CaptureOnSpeech: a.captureOnSpeech, Events: tapEvents(func(ev media.Event) {
		se.postEvent(func() {
			if r.active == a {
				r.speech(a, ev.Kind)
			}
		})
	})}
	if f := se.srv.cfg.NewEndpointer; f != nil {
		a.tap.VAD = f(se.srv.cfg.InputRate, sens)
	}
	a.on = r.ch.input()
	a.on.AddTap(&a.tap)
}

// speech is the endpointer's speech start or end: START-OF-INPUT, and Final-Silence (§10.4.4).
func (r *recorder) speech(a *recording, kind media.EventKind) {
	switch kind {
	case media.EventSpeechStart:
		clock.Stop(&a.silenceT)
		if !a.inputStarted {
			a.inputStarted = true
			clock.Stop(&a.noInputT)
			r.ch.send(r.ch.event(mrcp.EventStartOfInput, a.id, mrcp.StateInProgress))
		}
	case media.EventSpeechEnd:
		if a.inputStarted && a.finalSilence > 0 {
			clock.Stop(&a.silenceT)
			a.silenceT = r.after(a, a.finalSilence, func() { r.complete(mrcp.RecordSuccessSilence, nil) })
		}
	}
}

// complete closes the file and sends RECORD-COMPLETE (§10.8) with its Record-URI, or, for STOP
// (resp != nil), puts the Record-URI in the STOP response instead.
func (r *recorder) complete(cause mrcp.RecordCause, resp *mrcp.Message) {
	a := r.active
	if a == nil {
		return
	}
	r.end(a)
	uri := ""
	if cause == mrcp.RecordNoInputTimeout {
		a.file.Discard() // nothing was heard: no recording
	} else {
		uri = r.close(a)
		if uri == "" {
			cause = mrcp.RecordError
		}
	}
	target := resp
	if target == nil {
		target = r.ch.event(mrcp.EventRecordComplete, a.id, mrcp.StateComplete)
		target.Header.Set(mrcp.HeaderCompletionCause, cause.String())
		if a.err != nil {
			target.Header.Set(mrcp.HeaderCompletionReason, oneLine(a.err.Error()))
		}
	}
	if uri != "" {
		target.Header.Set(mrcp.HeaderRecordURI, uri)
	}
	if resp == nil {
		r.ch.se.srv.cfg.Metrics.completion(ResourceRecorder, cause.String())
		r.ch.send(target)
	}
}

// end stops the recording's timers and takes its tap off the stream; once it returns every frame
// the tap took is in the file.
func (r *recorder) end(a *recording) {
	r.active = nil
	a.on.RemoveTap(&a.tap)
	a.disk.close()
	clock.Stop(&a.noInputT)
	clock.Stop(&a.maxT)
	clock.Stop(&a.silenceT)
}

// create starts the recording's file. Its name is built only from our own identifiers (channel
// id and request-id), so nothing a client sends can steer it outside the recorder's directory.
func (r *recorder) create(id uint32) (*capture.Writer, error) {
	st, err := r.ch.se.srv.recordings()
	if err != nil {
		return nil, err
	}
	sid, _, _ := strings.Cut(r.ch.id, "@")
	return st.Create(fmt.Sprintf("%s-%d.wav", sid, id), r.ch.se.srv.cfg.InputRate, "")
}

// close finishes the file and gives its Record-URI (§10.4.7: <uri>;size=<octets>;duration=<ms>),
// "" when it failed.
func (r *recorder) close(a *recording) string {
	info, err := a.file.Close()
	if err != nil {
		r.ch.log.Error("recording not written", "file", info.Path, "err", err)
		return ""
	}
	return fmt.Sprintf("<file://%s>;size=%d;duration=%d", filepath.ToSlash(info.Path), info.Size, info.Duration.Milliseconds())
}

// stopRequest implements §10.6: the recording ends, the response carries its Record-URI and no
// RECORD-COMPLETE follows.
func (r *recorder) stopRequest(m *mrcp.Message) *mrcp.Message {
	resp := m.NewResponse(mrcp.Status200, mrcp.StateComplete)
	if a := r.active; a != nil && listed(m, a.id) {
		resp.Header.SetActiveRequestIDs(a.id)
		r.complete(mrcp.RecordSuccessSilence, resp)
	}
	return resp
}

// stop ends a recording with its session (BYE, lost control connection, shutdown) or its
// audio stream: what was recorded is kept, and a client still connected gets RECORD-COMPLETE.
func (r *recorder) stop() {
	a := r.active
	if a == nil {
		return
	}
	r.end(a)
	uri := r.close(a)
	r.ch.log.Info("recording ended with the session", "request-id", a.id, "record-uri", uri)
	ev := r.ch.event(mrcp.EventRecordComplete, a.id, mrcp.StateComplete)
	cause := mrcp.RecordSuccessSilence
	if uri == "" {
		cause = mrcp.RecordError
	}
	ev.Header.Set(mrcp.HeaderCompletionCause, cause.String())
	ev.Header.Set(mrcp.HeaderCompletionReason, "the session ended")
	if uri != "" {
		ev.Header.Set(mrcp.HeaderRecordURI, uri)
	}
	r.ch.se.srv.cfg.Metrics.completion(ResourceRecorder, cause.String())
	r.ch.send(ev)
}

// recordings is the recorder's store: Config.Recordings, else RecorderDir without a quota,
// opened at the first RECORD.
func (s *Server) recordings() (*capture.Store, error) {
	s.recOnce.Do(func() {
		if s.recStore = s.cfg.Recordings; s.recStore == nil {
			s.recStore, s.recErr = capture.Open(capture.Config{Dir: s.cfg.RecorderDir, Logger: s.log})
		}
	})
	return s.recStore, s.recErr
}

// recordingsOrNil is the recorder's store if one is configured or was opened.
func (s *Server) recordingsOrNil() *capture.Store {
	if s.cfg.Recordings != nil {
		return s.cfg.Recordings
	}
	st, _ := s.recordings()
	return st
}
