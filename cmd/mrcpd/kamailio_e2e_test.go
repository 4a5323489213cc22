package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr/testkit"
	"github.com/mrcpd/mrcpd/mrcp/client"
)

// Debian's kamailio, configured by the shipped conf/kamailio/kamailio.cfg, in front of two real
// mrcpd: INVITEs spread over both, and DTMF recognition works through the proxy with ACK and BYE
// on the Record-Route; an instance drained with SIGTERM takes no new session while its live one
// finishes; one killed with SIGKILL costs no call: every INVITE sent after the kill gets its 200
// from the other.
func TestE2EKamailio(t *testing.T) {
	a, b := startMrcpd(t, ""), startMrcpd(t, "")
	kam := startKamailio(t, a.sip, b.sip)
	ctx, c := newClient(t, kam.addr, 90*time.Second)
	owner := map[string]string{a.mrcp: "a", b.mrcp: "b"}
	call := func() (*client.Session, string) {
		t.Helper()
		s, err := c.Open(ctx, "speechrecog")
		if err != nil {
			t.Fatalf("INVITE through kamailio: %v\n%s", err, kam.log)
		}
		return s, owner[s.ControlAddr()]
	}
	recognize := func(s *client.Session) {
		t.Helper()
		res, err := s.Recognize(ctx, client.RecognizeRequest{Grammar: "builtin:dtmf/digits?length=2", DTMF: "42"})
		if err != nil || !res.Success() {
			t.Fatalf("DTMF through kamailio: %v %+v", err, res)
		}
	}
	hangUp := func(s *client.Session) {
		t.Helper()
		if err := s.Close(ctx); err != nil {
			t.Fatalf("BYE through kamailio: %v\n%s", err, kam.log)
		}
	}

	// Spread, and DTMF with ACK and BYE through the proxy.
	count := map[string]int{}
	for range 6 {
		s, who := call()
		count[who]++
		recognize(s)
		hangUp(s)
		// kamailio logs the BYE before forwarding it, but from another process through a pipe
		// this test reads on a goroutine of its own: the line may come after the 200.
		testkit.Eventually(t, "kamailio's log line for the BYE of "+s.CallID, func() bool {
			return kam.saw("BYE " + s.CallID)
		})
	}
	// Round robin gives 3 and 3; an INVITE an instance was too slow to answer (FR_TIMER on a
	// loaded machine) is retried on the other, so only "both" is certain.
	if count["a"] == 0 || count["b"] == 0 {
		t.Fatalf("sessions per instance %v, want both used", count)
	}
	t.Logf("6 calls: %d on a, %d on b", count["a"], count["b"])

	// Drain a: its live session finishes, new sessions all go to b.
	live := openOn(t, call, hangUp, "a")
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, "http://"+a.http+"/readyz", http.StatusServiceUnavailable)
	for range 4 {
		s, who := call()
		if who != "b" {
			t.Fatalf("a session reached the draining instance (%s)", s.ControlAddr())
		}
		hangUp(s)
	}
	recognize(live)
	hangUp(live)
	waitExit(t, a)

	// a comes back on its addresses; the probes put it back in rotation.
	a = startMrcpdAt(t, "", a.sip, a.mrcp, a.http)
	back := time.Now()
	hangUp(openOn(t, call, hangUp, "a"))
	t.Logf("restarted instance back in rotation after %v; INVITEs retried on the other instance so far: %d",
		time.Since(back).Round(time.Millisecond), strings.Count(kam.log.String(), "trying the next mrcpd"))

	// Kill b: every INVITE after the kill gets a 200, from a.
	if err := b.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = b.cmd.Wait()
	b.cmd = nil
	var wg sync.WaitGroup
	lat := make([]time.Duration, 8)
	errs := make(chan error, len(lat))
	for i := range lat {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := c.Open(ctx, "speechrecog")
			if err != nil {
				errs <- fmt.Errorf("INVITE %d after the kill: %w", i, err)
				return
			}
			lat[i] = s.InviteLatency
			if owner[s.ControlAddr()] != "a" {
				errs <- fmt.Errorf("INVITE %d answered by %s", i, s.ControlAddr())
			}
			errs <- s.Close(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("%v\n%s", err, kam.log)
		}
	}
	t.Logf("INVITE -> 200 after the kill: %v (the slowest waited for kamailio's fr_timer on the dead instance)", lat)
}

// openOn opens sessions until one lands on the instance named want (round robin and the probes
// decide); the others are hung up. It gives up after 10 s.
func openOn(t *testing.T, call func() (*client.Session, string), hangUp func(*client.Session), want string) *client.Session {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s, who := call()
		if who == want {
			return s
		}
		hangUp(s)
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no session reached instance %s", want)
	return nil
}

func waitStatus(t *testing.T, url string, code int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == code {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered %d (last: %v)", url, code, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitExit waits for a drained mrcpd to exit 0 by itself.
func waitExit(t *testing.T, d *daemonProc) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("drained mrcpd exit: %v\n%s", err, d.log)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("drained mrcpd still running after its last session\n%s", d.log)
	}
	d.cmd = nil
}

type kamailioProc struct {
	addr string
	log  *syncBuffer
}

// saw reports whether kamailio logged a line containing s.
func (k *kamailioProc) saw(s string) bool { return strings.Contains(k.log.String(), s) }

// startKamailio runs Debian's kamailio in the foreground on a free loopback port with the shipped
// configuration, its defines pointed at a dispatcher list of targets and at a runtime directory
// of the test's own; probes every second, fr_timer 1 s.
func startKamailio(t *testing.T, targets ...string) *kamailioProc {
	t.Helper()
	bin, err := exec.LookPath("kamailio")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/kamailio"); err != nil {
			t.Fatalf("kamailio not found (Debian package kamailio; `make deps` installs it): %v", err)
		}
	}
	root, err := testkit.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := os.ReadFile(filepath.Join(root, "conf", "kamailio", "kamailio.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg, list, run := filepath.Join(dir, "kamailio.cfg"), filepath.Join(dir, "dispatcher.list"), filepath.Join(dir, "run")
	var ds strings.Builder
	for _, target := range targets {
		fmt.Fprintf(&ds, "1 sip:%s\n", target)
	}
	for p, data := range map[string][]byte{cfg: shipped, list: []byte(ds.String())} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	k := &kamailioProc{addr: addr(freePort(t)), log: &syncBuffer{}}
	cmd := exec.Command(bin, "-f", cfg, "-DD", "-E", "-Y", run, "-P", filepath.Join(run, "kamailio.pid"),
		"-m", "32", "-M", "4",
		"-A", "LISTEN=udp:"+k.addr, "-A", fmt.Sprintf("DS_LIST=%q", list),
		"-A", "DS_PING_INTERVAL=1", "-A", "FR_TIMER=1000")
	cmd.Stdout, cmd.Stderr = k.log, k.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("kamailio did not stop on SIGTERM")
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for !sipOptionsOK(k.addr) {
		if time.Now().After(deadline) {
			t.Fatalf("kamailio does not answer OPTIONS\n%s", k.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return k
}

// sipOptionsOK sends one OPTIONS to addr over UDP and reports a 200 within 200 ms.
func sipOptionsOK(addr string) bool {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	msg := fmt.Sprintf("OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%d\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:probe@%s>;tag=1\r\nTo: <sip:%s>\r\nCall-ID: probe-%d\r\n"+
		"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", addr, local, time.Now().UnixNano(), local, addr, time.Now().UnixNano())
	if _, err := conn.Write([]byte(msg)); err != nil {
		return false
	}
	_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 2048)
	n, err := conn.Read(buf)
	return err == nil && strings.HasPrefix(string(buf[:n]), "SIP/2.0 200")
}
