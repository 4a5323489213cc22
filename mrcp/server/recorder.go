package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/media/audio"
	"github.com/mrcpd/mrcpd/mrcp"
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
	pcm             []int16
	endpoint        Endpointer
	noInputT        Timer
	maxT            Timer
	silenceT        Timer
}

func newRecorder(ch *channel) *recorder { return &recorder{ch: ch} }

// maxRecording bounds a RECORD without Max-Time (§10.4.6: 0 means none): the audio is held in
// memory until the file is written.
const maxRecording = 30 * time.Minute

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
	if r.ch.audio == nil || r.ch.audio.rx == nil {
		return nil, &mrcp.StatusError{Code: mrcp.Status407, Reason: "no audio stream to record"}
	}
	if f := r.ch.se.srv.cfg.NewEndpointer; f != nil {
		a.endpoint = f(r.ch.se.srv.cfg.InputRate, sens)
	}
	if a.maxTime <= 0 || a.maxTime > maxRecording {
		a.maxTime = maxRecording
	}
	r.active = a
	r.ch.send(m.NewResponse(mrcp.Status200, mrcp.StateInProgress))
	if a.maxTime > 0 {
		a.maxT = r.after(a, a.maxTime, func() { r.complete(mrcp.RecordSuccessMaxtime, nil) })
	}
	if a.timersOn {
		r.armNoInput()
	}
	return nil, nil
}

func (r *recorder) after(a *recording, d time.Duration, f func()) Timer {
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

func (r *recorder) audio(pcm []int16) {
	a := r.active
	if a == nil {
		return
	}
	ev := SpeechNone
	if a.endpoint != nil {
		ev = a.endpoint.Process(pcm)
	}
	switch ev {
	case SpeechStart:
		stopTimer(&a.silenceT)
		if !a.inputStarted {
			a.inputStarted = true
			stopTimer(&a.noInputT)
			r.ch.send(r.ch.event(mrcp.EventStartOfInput, a.id, mrcp.StateInProgress))
		}
	case SpeechEnd:
		if a.inputStarted && a.finalSilence > 0 {
			stopTimer(&a.silenceT)
			a.silenceT = r.after(a, a.finalSilence, func() { r.complete(mrcp.RecordSuccessSilence, nil) })
		}
	}
	if !a.captureOnSpeech || a.inputStarted {
		a.pcm = append(a.pcm, pcm...)
	}
}

// complete writes the file and sends RECORD-COMPLETE (§10.8) with its Record-URI, or, for STOP
// (resp != nil), puts the Record-URI in the STOP response instead.
func (r *recorder) complete(cause mrcp.RecordCause, resp *mrcp.Message) {
	a := r.active
	if a == nil {
		return
	}
	r.active = nil
	stopTimer(&a.noInputT)
	stopTimer(&a.maxT)
	stopTimer(&a.silenceT)
	uri := ""
	if cause != mrcp.RecordNoInputTimeout {
		var err error
		if uri, err = r.write(a); err != nil {
			r.ch.log.Error("recording not written", "err", err)
			cause = mrcp.RecordError
		}
	}
	target := resp
	if target == nil {
		target = r.ch.event(mrcp.EventRecordComplete, a.id, mrcp.StateComplete)
		target.Header.Set(mrcp.HeaderCompletionCause, cause.String())
	}
	if uri != "" {
		target.Header.Set(mrcp.HeaderRecordURI, uri)
	}
	if resp == nil {
		r.ch.se.srv.cfg.Metrics.completion(ResourceRecorder, cause.String())
		r.ch.send(target)
	}
}

// write stores the recording as WAV. The file name is built only from our own identifiers
// (channel id and request-id), so nothing a client sends can steer it outside RecorderDir.
func (r *recorder) write(a *recording) (string, error) {
	dir, err := filepath.Abs(r.ch.se.srv.cfg.RecorderDir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	sid, _, _ := strings.Cut(r.ch.id, "@")
	name := filepath.Join(dir, fmt.Sprintf("%s-%d.wav", sid, a.id))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return "", err
	}
	rate := r.ch.se.srv.cfg.InputRate
	if err := audio.WriteWAV(f, a.pcm, rate); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	dur := time.Duration(len(a.pcm)) * time.Second / time.Duration(rate)
	st, _ := os.Stat(name)
	size := int64(0)
	if st != nil {
		size = st.Size()
	}
	// §10.4.? Record-URI: <uri>;size=<bytes>;duration=<ms>
	return fmt.Sprintf("<file://%s>;size=%d;duration=%d", filepath.ToSlash(name), size, dur.Milliseconds()), nil
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

func (r *recorder) stop() {
	if a := r.active; a != nil {
		stopTimer(&a.noInputT)
		stopTimer(&a.maxT)
		stopTimer(&a.silenceT)
		r.active = nil
	}
}
