package capture

import (
	"encoding/binary"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/mrcpd/mrcpd/media/audio"
)

const wavHeader = audio.WAVHeaderSize

// flushEvery is how much audio is buffered before it goes to the file and the header is brought
// up to date: a process killed mid-capture leaves a valid WAV of all but the last second.
const flushEvery = time.Second

// Info describes a finished capture: RFC 6787 §9.4.8 and §10.4.7 give its size in octets and its
// duration in milliseconds with the URI.
type Info struct {
	Name     string
	Path     string
	Size     int64
	Duration time.Duration
	Samples  int64
}

// Writer streams 16-bit mono PCM into one WAV file. Write may be called from the media path
// while Close is called from the session: both hold the mutex only to append or flush.
type Writer struct {
	s    *Store
	e    *entry
	rate int

	mu      sync.Mutex
	f       *os.File
	buf     []byte
	samples int64
	err     error // sticky: the first failure ends the capture
}

func newWriter(s *Store, e *entry, f *os.File, rate int) *Writer {
	n := int(int64(rate) * 2 * int64(flushEvery) / int64(time.Second))
	return &Writer{s: s, e: e, f: f, rate: rate, buf: make([]byte, 0, n)}
}

// Name is the file name inside the store.
func (w *Writer) Name() string { return w.e.name }

// Write appends pcm. It fails with ErrQuota when the store is full (nothing of pcm is written)
// and from then on returns that error: a capture never has holes.
func (w *Writer) Write(pcm []int16) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.f == nil {
		return os.ErrClosed
	}
	n := int64(2 * len(pcm))
	w.s.mu.Lock()
	err := w.s.reserveLocked(w.e, n)
	w.s.mu.Unlock()
	if err != nil {
		w.err = err
		return err
	}
	for _, v := range pcm {
		w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(v))
	}
	w.samples += int64(len(pcm))
	if len(w.buf) >= cap(w.buf) {
		w.err = w.flushLocked()
	}
	return w.err
}

// Err is the failure that ended the capture early, if any.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *Writer) flushLocked() error {
	if len(w.buf) > 0 {
		if _, err := w.f.Write(w.buf); err != nil {
			return err
		}
		w.buf = w.buf[:0]
	}
	_, err := w.f.WriteAt(header(w.rate, w.samples)[:wavHeader], 0)
	return err
}

// Close flushes and closes the file; what was written before a quota or I/O failure is kept.
func (w *Writer) Close() (Info, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return Info{}, os.ErrClosed
	}
	ferr := w.flushLocked()
	cerr := w.f.Close()
	w.f = nil
	size := int64(wavHeader) + 2*w.samples
	if st, err := os.Stat(w.s.Path(w.e.name)); err == nil {
		size = st.Size()
	}
	w.s.finished(w.e, size)
	info := Info{Name: w.e.name, Path: w.s.Path(w.e.name), Size: size, Samples: w.samples,
		Duration: time.Duration(w.samples) * time.Second / time.Duration(w.rate)}
	if err := errors.Join(ferr, cerr); err != nil {
		return info, err
	}
	if w.err != nil && !errors.Is(w.err, ErrQuota) {
		return info, w.err
	}
	return info, nil
}

// Discard closes the writer and deletes its file.
func (w *Writer) Discard() {
	_, _ = w.Close() // the file goes whatever state it is in
	w.s.Remove(w.e.name)
}

// header is the canonical header of a mono 16-bit PCM WAV with samples samples.
func header(rate int, samples int64) []byte {
	return audio.AppendWAVHeader(make([]byte, 0, wavHeader), rate, samples)
}
