package media

import (
	"net/netip"
	"testing"
	"time"
)

// TestSharedPortRoute is the shared port's demultiplexing: by the offer's source, a NAT-rewritten
// port taken by the one stream of that host still waiting for its first packet, RTCP one port
// above RTP or the only stream of its host, and nothing else.
func TestSharedPortRoute(t *testing.T) {
	ap := netip.MustParseAddrPort
	type stream struct {
		name, offer string
		heard       bool
	}
	cases := []struct {
		name    string
		streams []stream
		rtcp    bool
		from    string
		want    string // stream name, "" for dropped
		adopt   bool
	}{
		{"declared source", []stream{{"a", "10.0.0.1:4000", false}, {"b", "10.0.0.2:4000", false}}, false, "10.0.0.2:4000", "b", false},
		{"declared source, heard", []stream{{"a", "10.0.0.1:4000", true}}, false, "10.0.0.1:4000", "a", false},
		{"NAT port, one waiting", []stream{{"a", "10.0.0.1:4000", false}, {"b", "10.0.0.2:4000", false}}, false, "10.0.0.1:5123", "a", true},
		{"NAT port, the other heard", []stream{{"a", "10.0.0.1:4000", true}, {"b", "10.0.0.1:4002", false}}, false, "10.0.0.1:5123", "b", true},
		{"NAT port, two waiting", []stream{{"a", "10.0.0.1:4000", false}, {"b", "10.0.0.1:4002", false}}, false, "10.0.0.1:5123", "", false},
		{"NAT port, none waiting", []stream{{"a", "10.0.0.1:4000", true}}, false, "10.0.0.1:5123", "", false},
		{"unknown host", []stream{{"a", "10.0.0.1:4000", false}}, false, "10.0.0.9:4000", "", false},
		{"no usable offer", []stream{{"a", "0.0.0.0:4000", false}}, false, "10.0.0.1:4000", "", false},
		{"same offer twice: the later", []stream{{"a", "10.0.0.1:4000", true}, {"b", "10.0.0.1:4000", false}}, false, "10.0.0.1:4000", "b", false},
		{"RTCP one port above", []stream{{"a", "10.0.0.1:4000", true}, {"b", "10.0.0.1:4002", true}}, true, "10.0.0.1:4003", "b", false},
		{"RTCP, only stream of its host", []stream{{"a", "10.0.0.1:4000", true}, {"b", "10.0.0.2:4000", true}}, true, "10.0.0.1:7777", "a", false},
		{"RTCP, two streams of its host", []stream{{"a", "10.0.0.1:4000", true}, {"b", "10.0.0.1:4002", true}}, true, "10.0.0.1:7777", "", false},
		{"RTCP, unknown host", []stream{{"a", "10.0.0.1:4000", true}}, true, "10.0.0.9:4001", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &sharedPort{byAddr: map[netip.AddrPort]*engineStream{}, byIP: map[netip.Addr][]*engineStream{}}
			names := map[*engineStream]string{}
			for _, s := range c.streams {
				st := &engineStream{heard: s.heard}
				names[st] = s.name
				p.index(st, ap(s.offer))
			}
			var got *engineStream
			var adopt bool
			if c.rtcp {
				got = p.routeRTCP(ap(c.from))
			} else {
				got, adopt = p.route(ap(c.from), time.Time{})
			}
			if names[got] != c.want || adopt != c.adopt {
				t.Fatalf("routed to %q (adopt %v), want %q (adopt %v)", names[got], adopt, c.want, c.adopt)
			}
		})
	}
}

// TestSharedPortRekeyAndUnindex: a stream that took a NAT'd source is routed by it from then on,
// not by its offer's; a closed stream is routed by nothing, and the other streams of its host stay.
func TestSharedPortRekeyAndUnindex(t *testing.T) {
	ap := netip.MustParseAddrPort
	p := &sharedPort{byAddr: map[netip.AddrPort]*engineStream{}, byIP: map[netip.Addr][]*engineStream{}}
	a, b := &engineStream{}, &engineStream{}
	p.index(a, ap("10.0.0.1:4000"))
	p.index(b, ap("10.0.0.1:4002"))
	b.heard = true
	st, adopt := p.route(ap("10.0.0.1:5123"), time.Time{})
	if st != a || !adopt {
		t.Fatalf("NAT port routed to %p (adopt %v), want a", st, adopt)
	}
	p.rekey(a, ap("10.0.0.1:5123"))
	a.heard = true
	if st, _ := p.route(ap("10.0.0.1:5123"), time.Time{}); st != a {
		t.Fatal("the taken source no longer routes to a")
	}
	if st, _ := p.route(ap("10.0.0.1:4000"), time.Time{}); st != nil {
		t.Fatal("a's offered source still routes")
	}
	if st := p.routeRTCP(ap("10.0.0.1:5124")); st != a {
		t.Fatal("RTCP one port above the taken source does not route to a")
	}
	p.unindex(a, time.Time{})
	if st, _ := p.route(ap("10.0.0.1:5123"), time.Time{}); st != nil {
		t.Fatal("a closed stream is still routed")
	}
	if st := p.routeRTCP(ap("10.0.0.1:9999")); st != b {
		t.Fatal("b is not the only stream of its host after a closed")
	}
	p.unindex(b, time.Time{})
	if len(p.byAddr) != 0 || len(p.byIP) != 0 {
		t.Fatalf("indexes not empty: %v %v", p.byAddr, p.byIP)
	}
}

// TestSharedPortOtherCallsSources (issue 10): a source that is another call's is no stranger for
// the one stream still waiting to take. Under load a call's RTP arrives before its stream is on
// the worker (it is sent as soon as the answer is), and a hung-up call's last packets after its
// stream left; taking either rekeyed the waiting stream away from its own source, which then
// went unrouted and was taken by the next stream to wait: failed recognitions in a chain.
func TestSharedPortOtherCallsSources(t *testing.T) {
	ap := netip.MustParseAddrPort
	from, t0 := ap("10.0.0.1:5000"), time.Unix(1000, 0)
	closed := func(p *sharedPort) { // a call from there hung up at t0
		st := &engineStream{heard: true}
		p.index(st, from)
		p.unindex(st, t0)
	}
	cases := []struct {
		name  string
		setup func(p *sharedPort)
		at    time.Time // the packet's arrival
		adopt bool
	}{
		{"a stranger", func(*sharedPort) {}, t0, true},
		{"another source claimed", func(p *sharedPort) { p.claim(ap("10.0.0.1:5002")) }, t0, true},
		{"claimed by a handle not yet open", func(p *sharedPort) { p.claim(from) }, t0, false},
		{"a stream's that just closed", closed, t0.Add(sourceGrace - time.Millisecond), false},
		{"arrived before the close, read after", closed, t0.Add(-time.Millisecond), false},
		{"a stream's that closed long ago", closed, t0.Add(sourceGrace), true},
		{"claimed again after a close", func(p *sharedPort) { closed(p); p.claim(from) }, t0.Add(time.Hour), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &sharedPort{byAddr: map[netip.AddrPort]*engineStream{}, byIP: map[netip.Addr][]*engineStream{},
				claims: map[netip.AddrPort]int{}}
			waiting := &engineStream{}
			p.index(waiting, ap("10.0.0.1:4000"))
			c.setup(p)
			st, adopt := p.route(from, c.at)
			if adopt != c.adopt || (st == waiting) != c.adopt {
				t.Fatalf("taken by the waiting stream: %v (adopt %v), want %v", st == waiting, adopt, c.adopt)
			}
		})
	}
}

// TestSharedPortLeftSwept: the closed streams' sources are forgotten once their grace is over,
// so the map stays the size of a grace period's closes, not of every call since start.
func TestSharedPortLeftSwept(t *testing.T) {
	p := &sharedPort{byAddr: map[netip.AddrPort]*engineStream{}, byIP: map[netip.Addr][]*engineStream{}}
	t0 := time.Unix(1000, 0)
	for i := range 10000 {
		st := &engineStream{}
		p.index(st, netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(1000+i%50000)))
		p.unindex(st, t0.Add(time.Duration(i)*time.Millisecond)) // 1,000 closes a second
	}
	if n := len(p.left); n > 2*2000+64 {
		t.Fatalf("%d sources kept, want at most a grace period's (2,000) and the sweep's slack", n)
	}
}
