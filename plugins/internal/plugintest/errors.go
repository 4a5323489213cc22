package plugintest

import (
	"errors"
	"net"
	"testing"

	"github.com/mrcpd/mrcpd/asr"
)

// IsError reports whether err is an *asr.Error of kind with that retryability: how the host tells
// a failure worth another attempt from one that is not.
func IsError(err error, kind asr.ErrorKind, retryable bool) bool {
	var ae *asr.Error
	return errors.As(err, &ae) && ae.Kind == kind && ae.Retryable == retryable
}

// DeadAddr is a loopback host:port nothing listens on (a port just opened and closed), for a dead
// endpoint in failover tests.
func DeadAddr(t testing.TB) string {
	t.Helper()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := dead.Addr().String()
	dead.Close()
	return addr
}
