package sip

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeTestCert writes a self-signed certificate for 127.0.0.1 and returns its files.
func writeTestCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mrcpd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestTLS(t *testing.T) {
	cert, key := writeTestCert(t)
	h := newFakeHandler()
	s := startServer(t, Config{TLSAddr: "127.0.0.1:0", TLSCert: cert, TLSKey: key}, h)
	if s.Addr("tls") == nil {
		t.Fatal("no TLS listener")
	}
	p := newPeer(t, s, "tls")
	ok := p.establish()
	if c := header(ok, "Contact"); !strings.HasSuffix(c, ";transport=tls>") {
		t.Errorf("Contact %q", c)
	}
	if calls := h.offerCalls(); len(calls) != 1 || calls[0].call.Transport != "tls" {
		t.Errorf("offers %+v", calls)
	}
	p.send(p.fixture(recogBye, recogToTag, toTag2(ok)))
	p.expect(200)
	if e := h.waitEnded(t); e.reason != "bye" {
		t.Errorf("Ended %+v", e)
	}
}

// TestCancelThenLateAnswer: an Offer that finishes after the CANCEL was answered is ended at
// once, so the Handler releases what it set up.
func TestCancelThenLateAnswer(t *testing.T) {
	h := newFakeHandler()
	h.hold = make(chan struct{})
	s := startServer(t, Config{}, h)
	released := false
	t.Cleanup(func() { // before the server stops: Run waits for the Offer
		if !released {
			close(h.hold)
		}
	})
	p := newPeer(t, s, "udp")
	invite := p.fixture(recogInvite)
	p.send(invite)
	<-h.entered
	cancel, _, _ := strings.Cut(strings.NewReplacer("INVITE sip:", "CANCEL sip:", "CSeq: 123102906 INVITE", "CSeq: 123102906 CANCEL").Replace(invite), "\r\n\r\n")
	p.send(cancel + "\r\n\r\n")
	p.expect(487)
	close(h.hold)
	released = true
	if e := h.waitEnded(t); e != (endedCall{recogCallID, "cancelled"}) {
		t.Errorf("Ended %+v", e)
	}
}
