package main

import (
	"context"
	"errors"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/client"
)

// SIGTERM drains: /healthz and new INVITEs answer 503, the live session still works and, once
// it ends, mrcpd exits 0.
func TestE2EDrain(t *testing.T) {
	d := startMrcpd(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := d.newClient(t)
	s, err := c.Open(ctx, "speechrecog")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + d.http + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz never said draining: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var se *client.SIPError
	if _, err := c.Open(ctx, "speechrecog"); !errors.As(err, &se) || se.Code != 503 {
		t.Fatalf("INVITE while draining: %v, want 503", err)
	}
	res, err := s.Recognize(ctx, client.RecognizeRequest{Grammar: "builtin:dtmf/digits?length=2", DTMF: "42"})
	if err != nil || !res.Success() {
		t.Fatalf("live session while draining: %v %+v", err, res)
	}
	if resp, err := s.Send(ctx, s.NewRequest(mrcp.MethodGetParams)); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET-PARAMS while draining: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- d.cmd.Wait() }()
	select {
	case err := <-exited:
		t.Fatalf("mrcpd exited with a live session: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("mrcpd exit: %v\n%s", err, d.log)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("mrcpd still running after its last session ended\n%s", d.log)
	}
	d.cmd = nil // already reaped: the cleanup has nothing to stop
}
