package media_test

import (
	"runtime"
	"testing"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/media/mediatest"
)

// idleStreamBytes is the heap a G.711 stream's receive side (Receiver, jitter buffer, detectors)
// takes before any packet arrives: what each of N idle sessions costs in media.
func idleStreamBytes(tb testing.TB, n int) float64 {
	pcmu := media.Format{PT: 0, Name: "PCMU", ClockRate: 8000, Channels: 1}
	te := media.Format{PT: 101, Name: "telephone-event", ClockRate: 8000, Channels: 1}
	conn := mediatest.NewConn(1)
	rs := make([]*media.Receiver, n)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range rs {
		r, err := media.NewReceiver(conn, media.ReceiverConfig{Formats: []media.Format{pcmu, te},
			OutputRate: 8000, InbandDTMF: true})
		if err != nil {
			tb.Fatal(err)
		}
		rs[i] = r
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(rs)
	return float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
}

// TestIdleStreamMemory bounds an idle stream's receive side; it was 5 KB more while the payload type
// table held a whole format (decoder and name) for each of the 128 types.
func TestIdleStreamMemory(t *testing.T) {
	if got := idleStreamBytes(t, 200); got > 3072 {
		t.Errorf("an idle stream's receiver takes %.0f bytes, want at most 3072", got)
	}
}

// BenchmarkIdleStreamMemory reports the heap one idle stream's receive side takes (bytes/stream).
func BenchmarkIdleStreamMemory(b *testing.B) {
	b.ReportMetric(idleStreamBytes(b, max(b.N, 100)), "bytes/stream")
}
