package server

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mrcpd/mrcpd/asr/testkit"
	"github.com/mrcpd/mrcpd/media"
)

var audioPortRE = regexp.MustCompile(`m=audio (\d+) `)

// Real media, symmetric RTP on: a caller behind NAT whose SDP names one port (A) but whose RTP
// comes from another (B) gets our RTP at B; its RTCP sender report is answered with receiver
// reports; the server's metrics count the stream.
func TestRTPSymmetricRTCPAndMetrics(t *testing.T) {
	listen := func() net.PacketConn {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	sdpPeer, natPeer, natRTCP := listen(), listen(), listen()
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(c *Config) {
		// A range of this test's own, below the kernel's ephemeral ports (32768-60999): the RTCP
		// port above the stream's must be free too. media's tests use 31000-31999, cmd/mrcpd's
		// churn test 20000-29999.
		e, err := media.NewEngine(media.NewPortPool("127.0.0.1", 30000, 30998), media.EngineConfig{Symmetric: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		c.Media = e
		c.Metrics = NewMetrics(reg)
	})
	offer := string(sdpBody(t, modRecogInvite))
	offer = strings.Replace(offer, "a=sendonly", "a=sendrecv", 1)
	offer = strings.Replace(offer, "m=audio 6010 ", "m=audio "+strconv.Itoa(sdpPeer.LocalAddr().(*net.UDPAddr).Port)+" ", 1)
	_, ans := h.offer("call-1", []byte(offer))
	port, _ := strconv.Atoi(string(audioPortRE.FindSubmatch(ans)[1]))
	ours := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	ep := h.endpoint(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the caller's RTP, from B
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 0x1234}, Payload: make([]byte, 160)}
		for i := uint16(0); ; i++ {
			pkt.SequenceNumber, pkt.Timestamp = i, uint32(i)*160
			b, _ := pkt.Marshal()
			natPeer.WriteTo(b, ours)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	testkit.Eventually(t, "a received packet", func() bool { return ep.stream.Stats().Received > 0 })
	// RTCP SR from the caller's RTCP port: we answer with receiver reports (RFC 3550 §6.4).
	sr := []byte{0x80, 200, 0, 6, 0, 0, 0x12, 0x34, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 160}
	if _, err := natRTCP.WriteTo(sr, &net.UDPAddr{IP: ours.IP, Port: port + 1}); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if err := ep.stream.Output().Write(make([]int16, 160)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 1500)
	natPeer.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, _, err := natPeer.ReadFrom(buf)
	var p rtp.Packet
	if err != nil || p.Unmarshal(buf[:n]) != nil || p.PayloadType != 0 {
		t.Fatalf("no RTP at the latched address: %v", err)
	}
	sdpPeer.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, _, err := sdpPeer.ReadFrom(buf); !isTimeout(err) {
		t.Fatalf("RTP still went to the SDP address (%v)", err)
	}
	natRTCP.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, _, err = natRTCP.ReadFrom(buf)
	if err != nil || n < 8 || buf[1] != 201 {
		t.Fatalf("no receiver report: %v % x", err, buf[:n])
	}
	mf := gather(t, reg)
	if v := mf["mrcpd_rtp_packets_received_total"]; v < 1 {
		t.Errorf("mrcpd_rtp_packets_received_total %v", v)
	}
	if v := mf["mrcpd_rtp_streams"]; v != 1 {
		t.Errorf("mrcpd_rtp_streams %v", v)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// endpoint is the session's only media endpoint, read on the session goroutine.
func (h *harness) endpoint(t *testing.T) *endpoint {
	t.Helper()
	h.srv.mu.Lock()
	var se *session
	for _, s := range h.srv.sessions {
		se = s
	}
	h.srv.mu.Unlock()
	var ep *endpoint
	err := se.call(context.Background(), func() error {
		if len(se.media) == 1 {
			ep = se.media[0]
		}
		return nil
	})
	if err != nil || ep == nil || ep.stream == nil || ep.stream.Output() == nil {
		t.Fatalf("no sendrecv endpoint: %v", err)
	}
	return ep
}

func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			out[mf.GetName()] += value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

// Ended streams stay in the totals; live ones are read at scrape time.
func TestRTPCollectorTotals(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	a := &statsFake{s: media.JitterStats{Received: 10, Lost: 1, Jitter: 3 * time.Millisecond}}
	b := &statsFake{s: media.JitterStats{Received: 5, Late: 2, Jitter: 7 * time.Millisecond}}
	m.receiverStarted(a)
	m.receiverStarted(b)
	got := gather(t, reg)
	if got["mrcpd_rtp_packets_received_total"] != 15 || got["mrcpd_rtp_streams"] != 2 || got["mrcpd_rtp_jitter_max_seconds"] != 0.007 {
		t.Fatalf("live: %v", got)
	}
	m.receiverEnded(b)
	a.s.Received = 20
	got = gather(t, reg)
	if got["mrcpd_rtp_packets_received_total"] != 25 || got["mrcpd_rtp_packets_late_total"] != 2 ||
		got["mrcpd_rtp_packets_lost_total"] != 1 || got["mrcpd_rtp_streams"] != 1 {
		t.Fatalf("after one ended: %v", got)
	}
}

type statsFake struct{ s media.JitterStats }

func (f *statsFake) Stats() media.JitterStats { return f.s }
