package server

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mrcpd/mrcpd/media"
)

// StatsReceiver is a stream that counts what it receives (media.Stream does); the server sums them
// into its metrics.
type StatsReceiver interface {
	Stats() media.JitterStats
}

// rtpCollector sums the receive counters of every stream the server has had: live streams are read
// at scrape time, ended ones were folded into done when they closed.
type rtpCollector struct {
	mu   sync.Mutex
	live map[StatsReceiver]struct{}
	done media.JitterStats

	counters []rtpCounter
	streams  *prometheus.Desc
	jitter   *prometheus.Desc
}

type rtpCounter struct {
	desc *prometheus.Desc
	get  func(media.JitterStats) uint64
}

func newRTPCollector() *rtpCollector {
	c := &rtpCollector{live: map[StatsReceiver]struct{}{},
		streams: prometheus.NewDesc("mrcpd_rtp_streams", "Live inbound RTP streams.", nil, nil),
		jitter: prometheus.NewDesc("mrcpd_rtp_jitter_max_seconds",
			"Largest RFC 3550 interarrival jitter among live inbound streams.", nil, nil)}
	for _, x := range []struct {
		name, help string
		get        func(media.JitterStats) uint64
	}{
		{"received", "RTP packets accepted.", func(s media.JitterStats) uint64 { return s.Received }},
		{"lost", "RTP packets never received by their playout time (concealed).", func(s media.JitterStats) uint64 { return s.Lost }},
		{"late", "RTP packets that arrived after their playout time (dropped).", func(s media.JitterStats) uint64 { return s.Late }},
		{"reordered", "RTP packets that arrived after a later one.", func(s media.JitterStats) uint64 { return s.Reordered }},
		{"duplicated", "Duplicate RTP packets (dropped).", func(s media.JitterStats) uint64 { return s.Duplicated }},
		{"malformed", "RTP packets refused as malformed or not negotiated.", func(s media.JitterStats) uint64 { return s.Malformed }},
		{"shed", "RTP packets shed to shrink the playout delay.", func(s media.JitterStats) uint64 { return s.Dropped }},
		{"foreign", "RTP and RTCP datagrams refused for coming from another source than the peer's (rtp.symmetric).",
			func(s media.JitterStats) uint64 { return s.Foreign }},
		{"unauthenticated", "SRTP and SRTCP datagrams that failed authentication (rtp.srtp).",
			func(s media.JitterStats) uint64 { return s.Unauthenticated }},
	} {
		c.counters = append(c.counters, rtpCounter{get: x.get,
			desc: prometheus.NewDesc("mrcpd_rtp_packets_"+x.name+"_total", x.help+" Summed over all sessions.", nil, nil)})
	}
	return c
}

func (c *rtpCollector) add(r StatsReceiver) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.live[r] = struct{}{}
	c.mu.Unlock()
}

// remove folds an ended stream's final counts into the totals.
func (c *rtpCollector) remove(r StatsReceiver) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.live[r]; !ok {
		return
	}
	delete(c.live, r)
	c.done = sumStats(c.done, r.Stats())
}

func sumStats(a, b media.JitterStats) media.JitterStats {
	a.Received += b.Received
	a.Lost += b.Lost
	a.Late += b.Late
	a.Reordered += b.Reordered
	a.Duplicated += b.Duplicated
	a.Malformed += b.Malformed
	a.Dropped += b.Dropped
	a.Underruns += b.Underruns
	a.Resets += b.Resets
	a.Foreign += b.Foreign
	a.Unauthenticated += b.Unauthenticated
	return a
}

func (c *rtpCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, x := range c.counters {
		ch <- x.desc
	}
	ch <- c.streams
	ch <- c.jitter
}

func (c *rtpCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	total, n := c.done, len(c.live)
	var maxJitter float64
	for r := range c.live {
		s := r.Stats()
		total = sumStats(total, s)
		maxJitter = max(maxJitter, s.Jitter.Seconds())
	}
	c.mu.Unlock()
	for _, x := range c.counters {
		ch <- prometheus.MustNewConstMetric(x.desc, prometheus.CounterValue, float64(x.get(total)))
	}
	ch <- prometheus.MustNewConstMetric(c.streams, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(c.jitter, prometheus.GaugeValue, maxJitter)
}
