package server

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/capture"
	"github.com/mrcpd/mrcpd/mrcp/server/recog"
)

// recDetail is what a recognition's detail record and its utterance capture collect on the way.
// Every field is owned by the session goroutine.
type recDetail struct {
	save      bool // Save-Waveform (§9.4.22)
	engine    string
	opened    time.Time // the engine stream is open
	speechEnd time.Time // the end of speech that started the completion timer
	wave      *capture.Writer
	heard     *heardTap  // the recognition's own tap, from its start to its end
	inputURI  string     // Input-Waveform-URI (§9.4.10): the input comes from this file
	input     *inputWave // open while the recognition runs
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

// startCapture installs the recognition's own tap, which notes when its input began and, for a
// RECOGNIZE with Save-Waveform: true, writes the utterance file. The recognizer records its input
// "without endpointing" (§9.4.22): every frame from now to the completion. A failure leaves the
// capture off, and RECOGNITION-COMPLETE then carries an empty Waveform-URI.
func (r *recognizer) startCapture(rec *recognition) {
	se := r.ch.se
	h := &heardTap{now: se.srv.cfg.Clock.Now}
	h.tap.Writer = h
	rec.detail.heard = h
	if st := se.srv.cfg.Waveforms; rec.detail.save && st != nil {
		w, err := st.Create(capture.NewName(), se.srv.cfg.InputRate, se.callID)
		if err != nil {
			r.ch.log.Warn("Save-Waveform: no capture", "request-id", rec.id, "err", err)
		} else {
			rec.detail.wave = w
			h.file = newTapFile(&se.wg, w, nil) // a full store ends the capture; what it holds is returned
		}
	}
	if rec.detail.inputURI != "" {
		r.startInput(rec) // the input is a file, fed through the tap by the session
	} else if st := r.ch.input(); st != nil {
		h.on = st
		st.AddTap(&h.tap)
	}
}

// heardTap is a recognition's own tap: when its first frame arrived, for the detail record, and
// the Save-Waveform capture, written on its own goroutine.
type heardTap struct {
	tap   media.Tap
	now   func() time.Time
	first atomic.Int64 // unix ns
	file  *tapFile     // nil without a capture
	on    media.Stream // where tap is installed
}

// WriteFrame runs on the media worker (or the session, for a file's frames).
func (h *heardTap) WriteFrame(pcm []int16) {
	if h.first.Load() == 0 {
		h.first.Store(h.now().UnixNano())
	}
	if h.file != nil {
		h.file.WriteFrame(pcm)
	}
}

// firstAudio is when the recognition's first frame arrived, zero if none did.
func (h *heardTap) firstAudio() time.Time {
	if h == nil || h.first.Load() == 0 {
		return time.Time{}
	}
	return time.Unix(0, h.first.Load())
}

// stop takes the tap off its stream and waits until the capture has every frame it was given.
func (h *heardTap) stop() {
	if h == nil {
		return
	}
	if h.on != nil {
		h.on.RemoveTap(&h.tap)
		h.on = nil
	}
	h.file.close()
	h.file = nil
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
