package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// /debug/pprof/ exists only with http.pprof; /readyz answers 200 while serving and 503 once the
// drain began.
func TestHTTPEndpoints(t *testing.T) {
	for _, pprof := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.SIP.Addr, cfg.MRCP.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
		cfg.HTTP.PProf = pprof
		d, err := newDaemon(context.Background(), cfg, "", slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		code := func(path string) int {
			w := httptest.NewRecorder()
			d.http.Handler.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
			return w.Code
		}
		want := http.StatusNotFound
		if pprof {
			want = http.StatusOK
		}
		if c := code("/debug/pprof/"); c != want {
			t.Errorf("pprof %v: /debug/pprof/ answered %d, want %d", pprof, c, want)
		}
		if c := code("/readyz"); c != http.StatusOK {
			t.Errorf("/readyz %d while serving", c)
		}
		d.draining.Store(true)
		if c := code("/readyz"); c != http.StatusServiceUnavailable {
			t.Errorf("/readyz %d while draining", c)
		}
		d.httpLn.Close()
		d.close()
	}
}
