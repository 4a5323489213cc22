// Package records writes recognition and synthesis detail records: one JSON object per line for
// every RECOGNIZE and SPEAK that ends, to a file rotated by size or to stdout. The fields are
// documented in docs/operations.md ("Detail records"); add fields, never rename them.
package records

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Record is one line. Times are milliseconds, nil when the request never reached that point.
type Record struct {
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"` // "recognize" or "speak"
	CallID    string    `json:"call_id"`
	Channel   string    `json:"channel"`
	RequestID uint32    `json:"request_id"`
	Client    string    `json:"client"`
	Engine    string    `json:"engine"`
	// Ended is "complete" (a completion event was sent), "stop" (STOP, barge-in) or "session"
	// (the session ended first).
	Ended    string   `json:"ended"`
	Cause    string   `json:"completion_cause,omitempty"`
	Grammars []string `json:"grammars,omitempty"`

	Text       string   `json:"text,omitempty"`
	Instance   string   `json:"instance,omitempty"`
	Confidence *float64 `json:"confidence,omitempty"`
	Mode       string   `json:"mode,omitempty"`
	Voice      string   `json:"voice,omitempty"`

	SetupMS          *float64 `json:"setup_ms,omitempty"`
	FirstAudioMS     *float64 `json:"first_audio_ms,omitempty"`
	SpeechEndMS      *float64 `json:"speech_end_to_complete_ms,omitempty"`
	DurationMS       float64  `json:"duration_ms"`
	WaveformURI      string   `json:"waveform_uri,omitempty"`
	RTP              *RTP     `json:"rtp,omitempty"`
	InputWaveformURI string   `json:"input_waveform_uri,omitempty"`
}

// RTP is the inbound audio of the session so far, summed over its streams.
type RTP struct {
	Received   uint64  `json:"received"`
	Lost       uint64  `json:"lost"`
	Late       uint64  `json:"late"`
	Reordered  uint64  `json:"reordered"`
	Duplicated uint64  `json:"duplicated"`
	Malformed  uint64  `json:"malformed"`
	Shed       uint64  `json:"shed"`
	JitterMS   float64 `json:"jitter_ms"`
}

// Millis is d in milliseconds, for the latency fields.
func Millis(d time.Duration) *float64 {
	ms := float64(d.Microseconds()) / 1000
	return &ms
}

// Config says where records go.
type Config struct {
	// Path is the file records are appended to; "-" is stdout.
	Path string
	// MaxBytes rotates the file when a record would take it past this size: Path becomes Path.1,
	// Path.1 becomes Path.2 ..., up to Keep old files. 0 never rotates.
	MaxBytes int64
	Keep     int
}

// Writer appends records. Its methods are safe for concurrent use: each record is one write of
// one line, so lines never interleave.
type Writer struct {
	cfg Config

	mu   sync.Mutex
	out  io.Writer
	f    *os.File
	size int64
}

// Open opens (or creates) the file; stdout is used for "-" and stdout is where it goes.
func Open(cfg Config, stdout io.Writer) (*Writer, error) {
	w := &Writer{cfg: cfg}
	if cfg.Path == "-" {
		w.out = stdout
		return w, nil
	}
	if err := w.openFile(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) openFile() error {
	f, err := os.OpenFile(w.cfg.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	w.f, w.out, w.size = f, f, st.Size()
	return nil
}

// Write appends r as one line.
func (w *Writer) Write(r *Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.out == nil {
		return os.ErrClosed
	}
	if w.f != nil && w.cfg.MaxBytes > 0 && w.size > 0 && w.size+int64(len(line)) > w.cfg.MaxBytes {
		if err := w.rotateLocked(); err != nil {
			return fmt.Errorf("records: rotate %s: %w", w.cfg.Path, err)
		}
	}
	n, err := w.out.Write(line)
	w.size += int64(n)
	return err
}

func (w *Writer) rotateLocked() error {
	if err := w.f.Close(); err != nil {
		return err
	}
	w.f, w.out = nil, nil
	keep := max(w.cfg.Keep, 1)
	os.Remove(fmt.Sprintf("%s.%d", w.cfg.Path, keep))
	for i := keep - 1; i >= 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", w.cfg.Path, i), fmt.Sprintf("%s.%d", w.cfg.Path, i+1))
	}
	if err := os.Rename(w.cfg.Path, w.cfg.Path+".1"); err != nil {
		return err
	}
	return w.openFile()
}

// Close closes the file (stdout is left open).
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.out = nil
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
