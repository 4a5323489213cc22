package server

import (
	"bytes"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/mrcp"
)

// Many pipelined requests on one connection are all answered: while the client is slow to read,
// the server reads less, it does not drop a connection whose client does read (issue 12, item 8).
func TestPipelinedRequestsFlowControlled(t *testing.T) {
	h := newHarness(t, nil)
	ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
	// Small socket buffers on both sides (the client's set before it connects, so that its
	// window starts small), and no reading until the server holds back: our answers back up in
	// the server as they would behind a busy client.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048)
		})
		return errors.Join(err, serr)
	}}
	nc, err := d.Dial("tcp", h.srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	cl := h.wrap(nc)
	h.waitConns(1)
	h.srv.mu.Lock()
	for c := range h.srv.conns {
		if err := c.nc.(*net.TCPConn).SetWriteBuffer(2048); err != nil {
			t.Error(err)
		}
	}
	h.srv.mu.Unlock()
	const n = 2000
	var b bytes.Buffer
	for i := range n {
		b.Write(mrcp.NewRequest(mrcp.MethodGetParams, uint32(i+1), ids[0]).Append(nil))
	}
	go cl.c.Write(b.Bytes())
	h.waitBacklog(128) // answers pile up: the server used to drop the connection at 256
	// Well past that, every answer arrives in order (all n would only take longer: our window is small).
	for i := range 600 {
		m := cl.next()
		if m.StatusCode != 200 || m.RequestID != uint32(i+1) {
			t.Fatalf("answer %d: %d to %d", i, m.StatusCode, m.RequestID)
		}
	}
}

// waitBacklog waits until some connection has n messages waiting to be written.
func (h *harness) waitBacklog(n int) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.srv.mu.Lock()
		most := 0
		for c := range h.srv.conns {
			most = max(most, c.queued())
		}
		h.srv.mu.Unlock()
		if most >= n {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("backlog %d, want %d", most, n)
		}
		time.Sleep(time.Millisecond)
	}
}
