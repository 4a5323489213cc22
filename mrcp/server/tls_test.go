package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/mrcp"
)

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mrcpd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TCP/TLS/MRCPv2 (RFC 6787 §4.4): the answer points at the TLS listener, which serves the channel.
func TestControlOverTLS(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.TLSAddr = "127.0.0.1:0"
		c.TLS = &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}
	})
	body := strings.Replace(string(sdpBody(t, modRecogInvite)), "TCP/MRCPv2", "TCP/TLS/MRCPv2", 1)
	ids, ans := h.offer("call-1", []byte(body))
	port := strconv.Itoa(h.srv.TLSAddr().(*net.TCPAddr).Port)
	if !strings.Contains(string(ans), "m=application "+port+" TCP/TLS/MRCPv2") {
		t.Fatalf("answer:\n%s", ans)
	}
	c, err := tls.Dial("tcp", "127.0.0.1:"+port, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(mrcp.NewRequest(mrcp.MethodGetParams, 1, ids[0]).Append(nil)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := mrcp.NewDecoder(c, 1<<16).Decode()
	if err != nil || m.StatusCode != 200 {
		t.Fatalf("over TLS: %v %v", m, err)
	}
}
