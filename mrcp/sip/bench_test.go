package sip

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// BenchmarkInviteTo200 measures INVITE -> 200 OK at 50 new sessions per second (the issue's
// load: UniMRCP 1.8 measures p50 3.4 ms, p99 8.4 ms on this machine) over loopback UDP, with
// mod_unimrcp's INVITE and a Handler that really parses the offer and builds the answer. Each
// session is ACKed and ended with BYE. Reports p50/p99 in ms; ns/op is dominated by the pacing.
func BenchmarkInviteTo200(b *testing.B) {
	benchInvites(b, 20*time.Millisecond)
}

// BenchmarkInviteTo200Unpaced sends the next INVITE as soon as the previous 200 arrived.
func BenchmarkInviteTo200Unpaced(b *testing.B) {
	benchInvites(b, 0)
}

func benchInvites(b *testing.B, every time.Duration) {
	h := newFakeHandler()
	h.entered = make(chan struct{}, b.N+16)
	h.ended = make(chan endedCall, b.N+16)
	s := startServer(b, Config{}, h)
	p := newPeer(b, s, "udp")
	invite := p.fixture(recogInvite)
	lat := make([]time.Duration, 0, b.N)
	var tick *time.Ticker
	if every > 0 {
		tick = time.NewTicker(every)
		defer tick.Stop()
	}
	b.ResetTimer()
	for i := range b.N {
		if tick != nil {
			<-tick.C
		}
		cid := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i)
		msg := strings.NewReplacer(recogCallID, cid, "z9hG4bK96HBFDDmNpceB", "z9hG4bKb"+cid, "tag=ZKv1N23Z63BpN", "tag=f"+cid).Replace(invite)
		start := time.Now()
		p.send(msg)
		ok := p.awaitOK(cid)
		lat = append(lat, time.Since(start))
		p.send(p.ackFor(ok, "a"+cid))
		p.send(p.byeFor(ok, "b"+cid))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)])/1e6, "p99-ms")
}

// awaitOK reads until the 200 OK of the INVITE of call-id cid.
func (p *peer) awaitOK(cid string) *sip.Response {
	for {
		m, err := p.recv(5 * time.Second)
		if err != nil {
			p.t.Fatalf("waiting for 200 of %s: %v", cid, err)
		}
		if res, ok := m.(*sip.Response); ok && res.StatusCode == 200 && header(res, "Call-ID") == cid &&
			res.CSeq().MethodName == sip.INVITE {
			return res
		}
	}
}

func (p *peer) byeFor(ok *sip.Response, branch string) string {
	return "BYE sip:" + p.server + " SIP/2.0\r\nVia: SIP/2.0/UDP " + p.conn.LocalAddr().String() +
		";rport;branch=z9hG4bK" + branch + "\r\nMax-Forwards: 70\r\nFrom: " + header(ok, "From") + "\r\nTo: " + header(ok, "To") +
		"\r\nCall-ID: " + header(ok, "Call-ID") + "\r\nCSeq: 123102907 BYE\r\nContent-Length: 0\r\n\r\n"
}
