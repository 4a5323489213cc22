package server

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mrcpd/mrcpd/mrcp"
)

// Connections past mrcp.max_connections, or past mrcp.max_connections_per_host from one host,
// are closed at once and counted; one closing makes room again (issue 12, item 4).
func TestConnectionCaps(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mod    func(*Config)
		reason string
	}{
		{"total", func(c *Config) { c.MaxConnections = 3 }, closedTotal},
		{"per host", func(c *Config) { c.MaxConnectionsPerHost = 3 }, closedPerHost},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMetrics(prometheus.NewRegistry())
			h := newHarness(t, func(c *Config) { tt.mod(c); c.Metrics = m })
			ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
			var open []*client
			for range 3 {
				open = append(open, h.dial())
			}
			h.waitConns(3)
			extra := h.dial()
			extra.closed()
			if got := closedCount(t, m, tt.reason); got != 1 {
				t.Fatalf("%s refusals counted: %v", tt.reason, got)
			}
			open[0].c.Close()
			h.waitConns(2)
			again := h.dial()
			again.send(mrcp.NewRequest(mrcp.MethodGetParams, 1, ids[0]))
			if r := again.next(); r.StatusCode != 200 {
				t.Fatalf("after one closed: %d", r.StatusCode)
			}
		})
	}
}

// A connection no channel is bound to is closed after mrcp.idle_timeout; a bound one stays.
func TestIdleUnboundConnectionClosed(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	h := newHarness(t, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond; c.Metrics = m })
	ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
	idle := h.dial()
	busy := h.dial()
	busy.send(mrcp.NewRequest(mrcp.MethodGetParams, 1, ids[0]))
	busy.next()
	// A request for no channel does not make a connection bound.
	idle.send(mrcp.NewRequest(mrcp.MethodGetParams, 1, "0123456789abcdef@speechrecog"))
	if r := idle.next(); r.StatusCode != 405 {
		t.Fatalf("unknown channel: %d", r.StatusCode)
	}
	idle.closed()
	if got := closedCount(t, m, closedIdle); got != 1 {
		t.Fatalf("idle closes counted: %v", got)
	}
	busy.send(mrcp.NewRequest(mrcp.MethodGetParams, 2, ids[0]))
	if r := busy.next(); r.StatusCode != 200 {
		t.Fatalf("bound connection: %d", r.StatusCode)
	}
}

// A message begun but not finished within mrcp.message_timeout is answered 408 and its
// connection closed: a client trickling bytes cannot hold a reader and a buffer forever.
func TestMessageTimeout(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	h := newHarness(t, func(c *Config) { c.MessageTimeout = 300 * time.Millisecond; c.Metrics = m })
	ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
	cl := h.dial()
	cl.send(mrcp.NewRequest(mrcp.MethodGetParams, 1, ids[0]))
	cl.next()
	cl.write([]byte("MRCP/2.0 900 SET-PARAMS 2\r\nChannel-Identifier: " + ids[0] + "\r\n"))
	if r := cl.next(); r.StatusCode != mrcp.Status408 {
		t.Fatalf("cut-short message: %d", r.StatusCode)
	}
	cl.closed()
	if got := closedCount(t, m, closedMessageTimeout); got != 1 {
		t.Fatalf("message timeouts counted: %v", got)
	}
}

// waitConns waits until n control connections are registered.
func (h *harness) waitConns(n int) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.srv.mu.Lock()
		k := len(h.srv.conns)
		h.srv.mu.Unlock()
		if k == n {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%d connections, want %d", k, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func closedCount(t *testing.T, m *Metrics, reason string) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.connsClosed.WithLabelValues(reason).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue()
}
