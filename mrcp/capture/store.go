// Package capture keeps the audio mrcpd records on disk: the utterances recognizers heard
// (Save-Waveform, RFC 6787 §9.4.22) and the recorder resource's recordings (§10). Audio is
// streamed into a WAV file as it arrives, so nothing grows in memory and what was captured
// survives the call (and, up to the last flush, the process). A Store accounts for the bytes of
// its directory: either as a quota that refuses audio once reached (recordings), or as a
// retention limit that deletes the oldest files to make room (utterances), together with a
// maximum age.
package capture

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrQuota is returned when the store's MaxBytes leaves no room and nothing may be deleted.
var ErrQuota = errors.New("capture: disk quota reached")

// ErrName is returned for a file name the store would not create or serve.
var ErrName = errors.New("capture: not a file name of this store")

// Config describes one directory of captures.
type Config struct {
	Dir string
	// MaxBytes bounds the WAV bytes in Dir, counting files already there at Open; 0 is no bound.
	MaxBytes int64
	// MaxAge deletes files older than this at each Prune; 0 keeps them.
	MaxAge time.Duration
	// Evict makes room for new audio by deleting the oldest released files; without it a full
	// store refuses audio with ErrQuota.
	Evict bool
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
}

// Store is one directory of WAV files. Its methods are safe for concurrent use.
type Store struct {
	cfg Config
	dir string

	mu    sync.Mutex
	files map[string]*entry
	total int64
}

// entry is one file. A file is pinned while its writer is open or its owner (a session) lives:
// RFC 6787 §9.4.8 keeps a Waveform-URI's content available until the session ends.
type entry struct {
	name    string
	size    int64
	created time.Time
	owner   string
	writing bool
}

// Open creates Dir if needed and accounts for the WAV files already in it.
func Open(cfg Config) (*Store, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, dir: dir, files: map[string]*entry{}}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, de := range des {
		if !de.Type().IsRegular() || !strings.HasSuffix(de.Name(), ".wav") {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		s.files[de.Name()] = &entry{name: de.Name(), size: fi.Size(), created: fi.ModTime()}
		s.total += fi.Size()
	}
	return s, nil
}

// Dir is the absolute directory of the store.
func (s *Store) Dir() string { return s.dir }

// Path is the file of name inside the store.
func (s *Store) Path(name string) string { return filepath.Join(s.dir, name) }

// Bytes is the size of every file the store holds.
func (s *Store) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// NewName is a name nobody can guess (RFC 6787 §12.6: a leaked or guessed URI is a leaked
// recording), for files served over HTTP.
func NewName() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + ".wav"
}

// validName accepts only plain file names ending in .wav: nothing a caller passes can reach
// outside the directory.
func validName(name string) bool {
	if !strings.HasSuffix(name, ".wav") || len(name) > 200 || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Create starts a WAV file of 16-bit mono PCM at rate. owner pins the file until Release(owner)
// ("" pins it only while it is written).
func (s *Store) Create(name string, rate int, owner string) (*Writer, error) {
	if !validName(name) {
		return nil, fmt.Errorf("%w: %q", ErrName, name)
	}
	s.mu.Lock()
	if _, ok := s.files[name]; ok {
		s.mu.Unlock()
		return nil, fmt.Errorf("capture: %s exists", name)
	}
	e := &entry{name: name, created: s.cfg.Now(), owner: owner, writing: true}
	if err := s.reserveLocked(e, wavHeader); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	s.files[name] = e
	s.mu.Unlock()
	f, err := os.OpenFile(s.Path(name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err == nil {
		_, err = f.Write(header(rate, 0))
		if err != nil {
			f.Close()
			os.Remove(s.Path(name))
		}
	}
	if err != nil {
		s.forget(e)
		return nil, err
	}
	return newWriter(s, e, f, rate), nil
}

// reserveLocked counts n more bytes for e, deleting released files first when the store evicts.
func (s *Store) reserveLocked(e *entry, n int64) error {
	if max := s.cfg.MaxBytes; max > 0 && s.total+n > max {
		if s.cfg.Evict {
			s.evictLocked(s.total + n - max)
		}
		if s.total+n > max {
			return ErrQuota
		}
	}
	e.size += n
	s.total += n
	return nil
}

// evictLocked deletes the oldest unpinned files until need bytes are free (or none is left).
func (s *Store) evictLocked(need int64) {
	for _, e := range s.oldestLocked() {
		if need <= 0 {
			return
		}
		if e.writing || e.owner != "" {
			continue
		}
		need -= e.size
		s.removeLocked(e, "retention: total size")
	}
}

func (s *Store) oldestLocked() []*entry {
	all := make([]*entry, 0, len(s.files))
	for _, e := range s.files {
		all = append(all, e)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].created.Before(all[j].created) })
	return all
}

func (s *Store) removeLocked(e *entry, why string) {
	if err := os.Remove(s.Path(e.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.cfg.Logger.Warn("capture not deleted", "file", s.Path(e.name), "err", err)
		return
	}
	delete(s.files, e.name)
	s.total -= e.size
	s.cfg.Logger.Debug("capture deleted", "file", e.name, "reason", why)
}

// forget drops an entry whose file was never made.
func (s *Store) forget(e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files[e.name] == e {
		delete(s.files, e.name)
		s.total -= e.size
	}
}

// Remove deletes name (a capture nobody will be given, e.g. of a stopped recognition).
func (s *Store) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.files[name]; ok && !e.writing {
		s.removeLocked(e, "discarded")
	}
}

// Release unpins the files of owner (its session ended): retention may delete them now.
func (s *Store) Release(owner string) {
	if owner == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.files {
		if e.owner == owner {
			e.owner = ""
		}
	}
}

// Prune deletes unpinned files older than MaxAge, then the oldest unpinned ones while the store
// is over MaxBytes (a smaller limit set since the files were written).
func (s *Store) Prune() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.MaxAge > 0 {
		cut := s.cfg.Now().Add(-s.cfg.MaxAge)
		for _, e := range s.files {
			if !e.writing && e.owner == "" && e.created.Before(cut) {
				s.removeLocked(e, "retention: age")
			}
		}
	}
	if s.cfg.Evict && s.cfg.MaxBytes > 0 && s.total > s.cfg.MaxBytes {
		s.evictLocked(s.total - s.cfg.MaxBytes)
	}
}

// ready reports whether name is a finished file of the store (what may be served).
func (s *Store) ready(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.files[name]
	return ok && !e.writing
}

// Lookup is the path of name if it is a finished file of the store.
func (s *Store) Lookup(name string) (string, bool) {
	if !validName(name) || !s.ready(name) {
		return "", false
	}
	return s.Path(name), true
}

func (s *Store) finished(e *entry, size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.writing = false
	s.total += size - e.size // the header was counted at Create, the data as it came
	e.size = size
}
