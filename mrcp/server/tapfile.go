package server

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/mrcpd/mrcpd/mrcp/capture"
)

// tapFileQueue is how many frames (5 s) may wait for the disk before a capture gives up: a
// capture never has holes, so one that falls that far behind ends with an error instead.
const tapFileQueue = 250

var errDiskBehind = errors.New("the disk fell behind the audio")

// tapFile is a media.Writer that streams a tap's frames into a capture file (a RECORD, a
// Save-Waveform utterance). The media worker only copies each frame into a queue; the file is
// written on the tapFile's own goroutine, so neither the worker nor the session waits on the disk.
type tapFile struct {
	file   *capture.Writer
	frames chan []int16
	done   chan struct{}
	behind atomic.Bool
	// failed, when set, is called once from the writing goroutine with the error that ended the
	// capture early (a quota reached, the disk failed or fell behind).
	failed func(error)
}

// newTapFile starts the writing goroutine, counted in wg until close.
func newTapFile(wg *sync.WaitGroup, file *capture.Writer, failed func(error)) *tapFile {
	t := &tapFile{file: file, frames: make(chan []int16, tapFileQueue), done: make(chan struct{}), failed: failed}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t.run()
	}()
	return t
}

// WriteFrame runs on the media worker: it never blocks.
func (t *tapFile) WriteFrame(pcm []int16) {
	if t.behind.Load() {
		return
	}
	select {
	case t.frames <- slices.Clone(pcm):
	default:
		t.behind.Store(true)
	}
}

func (t *tapFile) run() {
	defer close(t.done)
	var err error
	for pcm := range t.frames {
		if err != nil {
			continue // drained until close: the capture ended at the failure
		}
		// Frames queued before the overflow are written: the capture ends without a hole.
		if err = t.file.Write(pcm); err == nil && t.behind.Load() && len(t.frames) == 0 {
			err = errDiskBehind
		}
		if err != nil && t.failed != nil {
			t.failed(err)
		}
	}
}

// close waits until every queued frame is in the file. The tap must be off its stream (no
// WriteFrame may follow); the caller then closes or discards the file.
func (t *tapFile) close() {
	if t == nil {
		return
	}
	close(t.frames)
	<-t.done
}
