package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/media/audio"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/capture"
)

// inputFrame is the pace a stored file is fed at: the ptime of the RTP it stands in for.
const inputFrame = 20 * time.Millisecond

// inputWave is a recognition's Input-Waveform-URI (RFC 6787 §9.4.10): audio from a file mrcpd
// holds, fed one frame per inputFrame of the session clock and then silence, so that the
// recognition hears it as it would hear a caller who then goes quiet. RTP is ignored meanwhile.
type inputWave struct {
	f    *os.File
	rs   *audio.Resampler // nil when the file is at the input rate
	n    int              // samples per frame at the file's rate
	left int64            // samples not yet read
	buf  []byte
	out  []int16
}

// openInputWave resolves uri to a file mrcpd itself holds (a Waveform-URI it handed out, or a
// file: URI inside the waveforms' or the recorder's directory) and opens it. Nothing is ever
// fetched or read elsewhere: a client must not make mrcpd reach other hosts or read other files.
func (r *recognizer) openInputWave(uri string) (*inputWave, error) {
	path, err := r.localWave(strings.Trim(strings.TrimSpace(uri), "<>"))
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("no such waveform")
	}
	w, err := newInputWave(f, r.ch.se.srv.cfg.InputRate)
	if err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

func (r *recognizer) localWave(uri string) (string, error) {
	cfg := &r.ch.se.srv.cfg
	if base := cfg.WaveformURL; base != "" && cfg.Waveforms != nil {
		if name, ok := strings.CutPrefix(uri, base); ok {
			if path, ok := cfg.Waveforms.Lookup(name); ok {
				return path, nil
			}
			return "", errors.New("no such waveform")
		}
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "file" || (u.Host != "" && u.Host != "localhost") {
		return "", errors.New("only waveforms this server holds are read")
	}
	for _, st := range []*capture.Store{cfg.Waveforms, r.ch.se.srv.recordingsOrNil()} {
		if st == nil || filepath.Dir(filepath.Clean(u.Path)) != st.Dir() {
			continue
		}
		if path, ok := st.Lookup(filepath.Base(u.Path)); ok {
			return path, nil
		}
	}
	return "", errors.New("only waveforms this server holds are read")
}

// newInputWave reads the header of a WAV as mrcpd writes them (16-bit mono PCM, data at 44).
func newInputWave(f *os.File, rate int) (*inputWave, error) {
	var h [44]byte
	if _, err := io.ReadFull(f, h[:]); err != nil || string(h[0:4]) != "RIFF" || string(h[8:16]) != "WAVEfmt " ||
		binary.LittleEndian.Uint16(h[20:]) != 1 || binary.LittleEndian.Uint16(h[22:]) != 1 ||
		binary.LittleEndian.Uint16(h[34:]) != 16 || string(h[36:40]) != "data" {
		return nil, errors.New("not a 16-bit mono PCM WAV")
	}
	fr := int(binary.LittleEndian.Uint32(h[24:]))
	if fr < 8000 || fr > 48000 {
		return nil, fmt.Errorf("sample rate %d", fr)
	}
	w := &inputWave{f: f, n: fr * int(inputFrame/time.Millisecond) / 1000,
		left: int64(binary.LittleEndian.Uint32(h[40:])) / 2}
	if fr != rate {
		w.rs = audio.NewResampler(fr, rate)
	}
	w.buf = make([]byte, 2*w.n)
	return w, nil
}

// frame is the next inputFrame of audio at the input rate; silence once the file is over.
func (w *inputWave) frame() []int16 {
	pcm := make([]int16, w.n)
	if w.left > 0 {
		n, _ := io.ReadFull(w.f, w.buf[:2*min(int64(w.n), w.left)])
		for i := 0; i+1 < n; i += 2 {
			pcm[i/2] = int16(binary.LittleEndian.Uint16(w.buf[i:]))
		}
		w.left -= int64(n / 2)
		if n < len(w.buf) {
			w.left = 0
		}
	}
	if w.rs == nil {
		return pcm
	}
	w.out = w.rs.Process(w.out[:0], pcm)
	return append([]int16(nil), w.out...)
}

func (w *inputWave) close() {
	if w != nil && w.f != nil {
		w.f.Close()
		w.f = nil
	}
}

// inputParam checks Input-Waveform-URI; a URI mrcpd cannot or will not read is 404 naming it.
// The file is opened again when the request starts (startInput).
func (r *recognizer) inputParam(rec *recognition, p *params) {
	uri := p.raw(mrcp.HeaderInputWaveformURI)
	if uri == "" || p.err != nil {
		return
	}
	w, err := r.openInputWave(uri)
	if err != nil {
		p.keep(&mrcp.StatusError{Code: mrcp.Status404, Header: mrcp.HeaderInputWaveformURI, Reason: err.Error()})
		return
	}
	w.close()
	rec.detail.inputURI = uri
}

// startInput opens the file of an accepted RECOGNIZE and feeds its first frame one frame from
// now, when the engine stream and the state machine are up. The file's frames go through the
// recognition's taps as RTP frames would, but on the session goroutine: a file is not a stream.
func (r *recognizer) startInput(rec *recognition) {
	if rec.detail.inputURI == "" {
		return
	}
	w, err := r.openInputWave(rec.detail.inputURI)
	if err != nil { // deleted since the check: the recognition hears silence
		r.ch.log.Warn("Input-Waveform-URI", "request-id", rec.id, "err", err)
		return
	}
	rec.detail.input = w
	r.ch.se.after(inputFrame, func() { r.feedInput(rec) })
}

// feedInput gives the recognition its next frame from the file and comes back one frame later,
// until the recognition ends.
func (r *recognizer) feedInput(rec *recognition) {
	w := rec.detail.input
	if w == nil || w.f == nil {
		return
	}
	if r.active != rec {
		w.close()
		return
	}
	pcm := w.frame()
	rec.detail.heard.tap.Frame(pcm)
	rec.engine.fileFrame(pcm)
	r.ch.se.after(inputFrame, func() { r.feedInput(rec) })
}
