package media_test

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/media/mediatest"
)

// newG711Receiver is the receive side of a PCMU call with telephone-event and in-band DTMF, as
// mod_unimrcp's offer gets it.
func newG711Receiver(tb testing.TB, conn *mediatest.Conn) *media.Receiver {
	pcmu := media.Format{PT: 0, Name: "PCMU", ClockRate: 8000, Channels: 1}
	te := media.Format{PT: 101, Name: "telephone-event", ClockRate: 8000, Channels: 1}
	r, err := media.NewReceiver(conn, media.ReceiverConfig{Formats: []media.Format{pcmu, te},
		OutputRate: 8000, InbandDTMF: true})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// idleStreamBytes is the heap a G.711 stream's receive side (Receiver, jitter buffer, detectors)
// takes before any packet arrives: what each of N idle sessions costs in media.
func idleStreamBytes(tb testing.TB, n int) float64 {
	conn := mediatest.NewConn(1)
	rs := make([]*media.Receiver, n)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range rs {
		rs[i] = newG711Receiver(tb, conn)
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

// listeningStreamBytes is the live heap a G.711 stream's receive side holds once something listens:
// the idle side plus the decoding state (PLC, resampler, in-band DTMF, buffers) and the jitter
// slots that a second of clean packets fills.
func listeningStreamBytes(tb testing.TB, n int) float64 {
	conn := mediatest.NewConn(1)
	st := &mediatest.Stream{PT: 0, SSRC: 0x1234, Marker: true}
	var pkts [][]byte
	for i := 0; i < 50; i++ {
		pkts = append(pkts, st.Next(make([]byte, 160), 160))
	}
	rs := make([]*media.Receiver, n)
	sink := &discardSink{}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	t0 := time.Unix(1000, 0)
	for i := range rs {
		r := newG711Receiver(tb, conn)
		for k, p := range pkts {
			now := t0.Add(time.Duration(k) * media.FrameDuration)
			r.ReceiveAt(p, netip.AddrPort{}, now, sink)
			r.TickAt(now, sink)
		}
		rs[i] = r
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(rs)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// TestListeningStreamMemory bounds what a stream holds while a tap listens. It was 20 KB while the
// PLC allocated its loss buffers up front and the decoding buffers were sized for the worst packet.
func TestListeningStreamMemory(t *testing.T) {
	if got := listeningStreamBytes(t, 500); got > 7168 {
		t.Errorf("a listening stream's receive side holds %.0f bytes, want at most 7168", got)
	}
}

// BenchmarkListeningStreamMemory reports the heap one listening stream's receive side holds
// (bytes/stream).
func BenchmarkListeningStreamMemory(b *testing.B) {
	b.ReportMetric(listeningStreamBytes(b, max(b.N, 100)), "bytes/stream")
}
