package load

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// Report is the outcome of a run; it is also the --json document (durations in milliseconds).
type Report struct {
	Server         string        `json:"server"`
	ElapsedSeconds float64       `json:"elapsed_seconds"`
	Sessions       SessionCounts `json:"sessions"`
	PeakOpen       int           `json:"peak_open_sessions"`

	Invite              Latency `json:"invite_to_200_ok"`
	RecognizeInProgress Latency `json:"recognize_to_in_progress"`
	AudioEndToComplete  Latency `json:"end_of_audio_to_recognition_complete"`
	CompleteBeforeEnd   int     `json:"recognition_complete_before_end_of_audio"`
	SpeakFirstRTP       Latency `json:"speak_to_first_rtp"`

	Recognitions Outcomes  `json:"recognitions"`
	Speaks       Outcomes  `json:"speaks"`
	Accuracy     *Accuracy `json:"accuracy,omitempty"`

	RTPSent     TxStats  `json:"rtp_sent"`
	RTPReceived RxStats  `json:"rtp_received"` // over all SPEAKs
	RTPRead     RxCounts `json:"rtp_read"`     // every packet read, all run long
	Measure     *Window  `json:"measure,omitempty"`
}

// SessionCounts: every session started is ok or failed (for its first failure's reason).
type SessionCounts struct {
	Attempted int               `json:"attempted"`
	OK        int               `json:"ok"`
	Failed    int               `json:"failed"`
	ByReason  map[string]int    `json:"failed_by_reason"`
	Examples  map[string]string `json:"failure_examples"` // one error message per reason
}

// Outcomes counts finished requests by Completion-Cause.
type Outcomes struct {
	Completed int            `json:"completed"`
	ByCause   map[string]int `json:"by_cause"`
}

// Accuracy compares results with the expected one.
type Accuracy struct {
	Checked int            `json:"checked"`
	Right   int            `json:"right"`
	Rate    float64        `json:"rate"`
	Wrong   map[string]int `json:"wrong"` // what was heard instead, by count
}

// Latency summarises samples in milliseconds (nearest-rank percentiles).
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func summarise(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	at := func(p float64) float64 {
		i := int(math.Ceil(p/100*float64(len(d)))) - 1
		return float64(d[min(max(i, 0), len(d)-1)]) / float64(time.Millisecond)
	}
	return Latency{Count: len(d), P50: at(50), P95: at(95), P99: at(99), Max: at(100)}
}

func (l Latency) String() string {
	if l.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("p50 %.1f p95 %.1f p99 %.1f max %.1f ms (%d)", l.P50, l.P95, l.P99, l.Max, l.Count)
}

// String is the text report.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "server %s, %.1f s, at most %d sessions open\n", r.Server, r.ElapsedSeconds, r.PeakOpen)
	fmt.Fprintf(&b, "sessions: attempted %d, ok %d, failed %d\n", r.Sessions.Attempted, r.Sessions.OK, r.Sessions.Failed)
	for _, k := range slices.Sorted(maps.Keys(r.Sessions.ByReason)) {
		fmt.Fprintf(&b, "  failed %d: %s (e.g. %s)\n", r.Sessions.ByReason[k], k, r.Sessions.Examples[k])
	}
	fmt.Fprintf(&b, "INVITE -> 200 OK:                      %v\n", r.Invite)
	fmt.Fprintf(&b, "RECOGNIZE -> IN-PROGRESS:              %v\n", r.RecognizeInProgress)
	fmt.Fprintf(&b, "end of audio -> RECOGNITION-COMPLETE:  %v\n", r.AudioEndToComplete)
	if r.CompleteBeforeEnd > 0 {
		fmt.Fprintf(&b, "  %d recognitions completed before the end of their audio (not in the figure)\n", r.CompleteBeforeEnd)
	}
	fmt.Fprintf(&b, "SPEAK -> first RTP packet:             %v\n", r.SpeakFirstRTP)
	outcomes := func(name string, o Outcomes) {
		if o.Completed == 0 && len(o.ByCause) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s completed %d:", name, o.Completed)
		for _, k := range slices.Sorted(maps.Keys(o.ByCause)) {
			fmt.Fprintf(&b, " [%s] %d", k, o.ByCause[k])
		}
		b.WriteByte('\n')
	}
	outcomes("recognitions", r.Recognitions)
	outcomes("speaks", r.Speaks)
	if a := r.Accuracy; a != nil {
		fmt.Fprintf(&b, "accuracy: %d of %d right (%.1f%%)", a.Right, a.Checked, 100*a.Rate)
		for _, k := range slices.Sorted(maps.Keys(a.Wrong)) {
			fmt.Fprintf(&b, " [heard %q] %d", k, a.Wrong[k])
		}
		b.WriteByte('\n')
	}
	t := r.RTPSent
	fmt.Fprintf(&b, "RTP sent: %d packets in %d system calls, late %d (at most %.1f ms behind), skipped %d, dropped on purpose %d, send errors %d\n",
		t.Packets, t.Calls, t.Late, t.MaxBehindMS, t.Skipped, t.Dropped, t.Errors)
	x := r.RTPReceived
	fmt.Fprintf(&b, "RTP received during SPEAKs: %d packets, missing %d, late %d; dropped by the kernel (full socket buffer) %d\n",
		x.Packets, x.Missing, x.Late, r.RTPRead.Dropped)
	if m := r.Measure; m != nil {
		fmt.Fprintf(&b, "measured over %.1f s with %d sessions open, %.0f RTP packets/s sent: server pid %d CPU %.3f cores, RSS %.1f MB; this client CPU %.3f cores; loadavg %s\n",
			m.Seconds, m.Sessions, m.SentPerSec, m.PID, m.ServerCPU, m.ServerRSSMB, m.ClientCPU, m.LoadAvg)
		if m.Error != "" {
			fmt.Fprintf(&b, "  measurement: %s\n", m.Error)
		}
	}
	return b.String()
}

// collector gathers the sessions' results under one lock; the counters the progress line reads
// are kept apart so that it never waits.
type collector struct {
	mu                                    sync.Mutex
	invite, recogIP, audioEnd, speakFirst []time.Duration
	early                                 int
	counts                                SessionCounts
	recog, speak                          Outcomes
	acc                                   Accuracy
	checkAccuracy                         bool
	rx                                    RxStats
}

func newCollector(checkAccuracy bool) *collector {
	return &collector{checkAccuracy: checkAccuracy,
		counts: SessionCounts{ByReason: map[string]int{}, Examples: map[string]string{}},
		recog:  Outcomes{ByCause: map[string]int{}}, speak: Outcomes{ByCause: map[string]int{}},
		acc: Accuracy{Wrong: map[string]int{}}}
}

func (c *collector) add(dst *[]time.Duration, d time.Duration) {
	c.mu.Lock()
	*dst = append(*dst, d)
	c.mu.Unlock()
}

func (c *collector) ended(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.counts.OK++
		return
	}
	c.counts.Failed++
	r := reasonOf(err)
	c.counts.ByReason[r]++
	if _, ok := c.counts.Examples[r]; !ok {
		c.counts.Examples[r] = err.Error()
	}
}

func (c *collector) recognized(cause string, complete, audioEnd time.Time, heard string, right bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recog.Completed++
	c.recog.ByCause[cause]++
	switch {
	case audioEnd.IsZero() || complete.Before(audioEnd):
		c.early++
	default:
		c.audioEnd = append(c.audioEnd, complete.Sub(audioEnd))
	}
	if c.checkAccuracy {
		c.acc.Checked++
		if right {
			c.acc.Right++
		} else {
			c.acc.Wrong[heard]++
		}
	}
}

func (c *collector) spoke(cause string, rx RxStats, sent time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.speak.Completed++
	c.speak.ByCause[cause]++
	c.rx.Packets += rx.Packets
	c.rx.Missing += rx.Missing
	c.rx.Late += rx.Late
	if !rx.First.IsZero() {
		c.speakFirst = append(c.speakFirst, rx.First.Sub(sent))
	}
}

func (c *collector) report(r *Report) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r.Sessions = c.counts
	r.Sessions.Attempted = c.counts.OK + c.counts.Failed
	r.Invite, r.RecognizeInProgress = summarise(c.invite), summarise(c.recogIP)
	r.AudioEndToComplete, r.SpeakFirstRTP = summarise(c.audioEnd), summarise(c.speakFirst)
	r.CompleteBeforeEnd = c.early
	r.Recognitions, r.Speaks, r.RTPReceived = c.recog, c.speak, c.rx
	if c.checkAccuracy {
		a := c.acc
		if a.Checked > 0 {
			a.Rate = float64(a.Right) / float64(a.Checked)
		}
		r.Accuracy = &a
	}
}
