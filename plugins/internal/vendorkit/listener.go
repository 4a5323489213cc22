package vendorkit

import (
	"math"
	"strings"
	"sync"
	"time"
)

// Conns is the set of a stand-in's open connections, so that closing the stand-in can wait for
// them. A handler can still be starting a connection while the stand-in closes (httptest's Close
// does not wait for hijacked WebSocket connections), and a sync.WaitGroup must not be added to
// while it is waited on: once Close has begun, Add refuses instead.
type Conns struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// Add counts a new connection; false when the stand-in is closing, and the connection is to be
// dropped. Each true is matched by a Done.
func (c *Conns) Add() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	return true
}

// Done says a connection counted by Add has ended.
func (c *Conns) Done() { c.wg.Done() }

// Close refuses new connections and waits for the open ones.
func (c *Conns) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.wg.Wait()
}

// Script is what a protocol stand-in "recognises". A stand-in is not a speech recogniser: tests
// send audio made from a known phrase and configure the transcript the stand-in answers with, so
// that what is under test is the plugin's handling of the vendor protocol, message for message.
type Script struct {
	Transcript   string   // said when speech was heard
	Alternatives []string // further n-best entries, in order
	Confidence   float64  // of the best alternative; default 0.9
}

// Conf is the configured confidence or its default.
func (s Script) Conf() float64 {
	if s.Confidence <= 0 {
		return 0.9
	}
	return s.Confidence
}

// ListenEvent is a change the Listener saw in the audio.
type ListenEvent int

const (
	SpeechBegin ListenEvent = iota + 1 // energy rose above the threshold
	SpeechEnd                          // EndSilence of quiet followed speech
)

// Listener segments 16-bit PCM by the energy of 10 ms frames, deterministically: speech begins at
// the first loud frame and ends after EndSilence of quiet frames. Stand-ins use it to place speech
// events, partials and word times the way a vendor would, from the audio they really received.
type Listener struct {
	Rate       int
	Threshold  float64       // RMS of a loud frame; default 300
	EndSilence time.Duration // default 500 ms

	pending   []int16
	pos       int // samples consumed, in whole frames
	inSpeech  bool
	heard     bool
	start     int
	lastLoud  int
	quietRun  int
	endReport bool
}

func (l *Listener) frame() int { return max(l.Rate/100, 1) }

// Feed consumes audio and returns what changed.
func (l *Listener) Feed(pcm []int16) []ListenEvent {
	thr := l.Threshold
	if thr <= 0 {
		thr = 300
	}
	end := l.EndSilence
	if end <= 0 {
		end = 500 * time.Millisecond
	}
	endSamples := int(end.Seconds() * float64(l.Rate))
	var evs []ListenEvent
	l.pending = append(l.pending, pcm...)
	n := l.frame()
	for len(l.pending) >= n {
		f := l.pending[:n]
		l.pending = l.pending[n:]
		var sum float64
		for _, s := range f {
			sum += float64(s) * float64(s)
		}
		loud := math.Sqrt(sum/float64(n)) > thr
		if loud {
			if !l.inSpeech {
				l.inSpeech = true
				if !l.heard {
					l.heard, l.start = true, l.pos
					evs = append(evs, SpeechBegin)
				}
			}
			l.lastLoud = l.pos + n
			l.quietRun = 0
		} else if l.inSpeech {
			l.quietRun += n
			if l.quietRun >= endSamples {
				l.inSpeech = false
				if !l.endReport {
					l.endReport = true
					evs = append(evs, SpeechEnd)
				}
			}
		}
		l.pos += n
	}
	return evs
}

func (l *Listener) at(samples int) time.Duration {
	return time.Duration(samples) * time.Second / time.Duration(max(l.Rate, 1))
}

// Heard reports whether any speech was heard.
func (l *Listener) Heard() bool { return l.heard }

// Ended reports whether speech was followed by EndSilence of quiet.
func (l *Listener) Ended() bool { return l.endReport }

// Span is where speech began and where the last loud frame ended, as offsets into the stream.
func (l *Listener) Span() (start, end time.Duration) { return l.at(l.start), l.at(l.lastLoud) }

// Now is the offset of the audio consumed so far.
func (l *Listener) Now() time.Duration { return l.at(l.pos) }

// TimedWord is one word of a transcript placed in the audio.
type TimedWord struct {
	Word       string
	Start, End time.Duration
}

// Words spreads text's words evenly over the speech heard.
func (l *Listener) Words(text string) []TimedWord {
	ws := strings.Fields(text)
	if len(ws) == 0 || !l.heard {
		return nil
	}
	start, end := l.Span()
	step := (end - start) / time.Duration(len(ws))
	out := make([]TimedWord, len(ws))
	for i, w := range ws {
		out[i] = TimedWord{Word: w, Start: start + time.Duration(i)*step, End: start + time.Duration(i+1)*step}
	}
	return out
}

// Partial is the interim hypothesis while speech goes on: one more word of text per 250 ms of
// audio since speech began, never the whole text before speech ended.
func (l *Listener) Partial(text string) string {
	ws := strings.Fields(text)
	if !l.heard || len(ws) == 0 {
		return ""
	}
	n := int((l.Now()-l.at(l.start))/(250*time.Millisecond)) + 1
	n = min(n, len(ws)-1)
	if l.endReport {
		n = len(ws)
	}
	return strings.Join(ws[:max(n, 0)], " ")
}
