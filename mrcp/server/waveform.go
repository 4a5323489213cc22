package server

import (
	"fmt"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/capture"
	"github.com/mrcpd/mrcpd/mrcp/server/recog"
)

// recDetail is what a recognition's detail record and its utterance capture collect on the way.
// Every field is owned by the session goroutine.
type recDetail struct {
	save       bool // Save-Waveform (§9.4.22)
	engine     string
	opened     time.Time // the engine stream is open
	firstAudio time.Time
	speechEnd  time.Time // the end of speech that started the completion timer
	wave       *capture.Writer
	inputURI   string     // Input-Waveform-URI (§9.4.10): the input comes from this file
	input      *inputWave // open while the recognition runs
}

// timer notes when the machine starts Speech-Complete/-Incomplete-Timeout: the end of speech
// the caller's wait is measured from.
func (d *recDetail) timer(t recog.Timer, now func() time.Time) {
	if t == recog.SpeechTimer {
		d.speechEnd = now()
	}
}

// captureParams reads Save-Waveform (§9.4.22) and Media-Type (§9.4.9: the type captured audio is
// stored in; only WAV is written, 409 otherwise). Errors are kept in p.
func (r *recognizer) captureParams(rec *recognition, p *params) {
	rec.detail.save = p.bool(mrcp.HeaderSaveWaveform)
	r.inputParam(rec, p)
	if !rec.detail.save || p.err != nil {
		return
	}
	if mt := strings.ToLower(p.raw(mrcp.HeaderMediaType)); mt != "audio/wav" && mt != "audio/x-wav" {
		p.keep(&mrcp.StatusError{Code: mrcp.Status409, Header: mrcp.HeaderMediaType, Reason: "only audio/wav is captured"})
	}
}

// startCapture opens the utterance file of a RECOGNIZE with Save-Waveform: true. The recognizer
// records its input "without endpointing" (§9.4.22): every frame from now to the completion.
// A failure leaves the capture off, and RECOGNITION-COMPLETE then carries an empty Waveform-URI.
func (r *recognizer) startCapture(rec *recognition) {
	r.startInput(rec)
	st := r.ch.se.srv.cfg.Waveforms
	if !rec.detail.save || st == nil {
		return
	}
	w, err := st.Create(capture.NewName(), r.ch.se.srv.cfg.InputRate, r.ch.se.callID)
	if err != nil {
		r.ch.log.Warn("Save-Waveform: no capture", "request-id", rec.id, "err", err)
		return
	}
	rec.detail.wave = w
}

// heard is the recognizer's input tap: the frame goes into the capture.
func (d *recDetail) heard(now func() time.Time, pcm []int16) {
	if d.firstAudio.IsZero() {
		d.firstAudio = now()
	}
	if d.wave != nil {
		_ = d.wave.Write(pcm) // a full store ends the capture; what it holds is still returned
	}
}

// waveformURI closes the capture and gives the Waveform-URI value of §9.4.8: "<uri>;size=
// <octets>;duration=<ms>", or "" when the audio could not be kept.
func (d *recDetail) waveformURI(srv *Server) string {
	w := d.wave
	if w == nil {
		return ""
	}
	d.wave = nil
	info, err := w.Close()
	if err != nil {
		srv.log.Warn("Save-Waveform: capture failed", "file", info.Path, "err", err)
		return ""
	}
	return fmt.Sprintf("<%s%s>;size=%d;duration=%d", srv.cfg.WaveformURL, info.Name, info.Size, info.Duration.Milliseconds())
}
