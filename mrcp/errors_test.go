package mrcp

import (
	"errors"
	"fmt"
	"testing"
)

// TestStatusOf: every error that knows its MRCP status says it through Failure, also wrapped; any
// other error is 501 server-internal-error.
func TestStatusOf(t *testing.T) {
	_, _, bad := hdr("no-input-timeout", "soon").Duration(HeaderNoInputTimeout)
	_, list := ParseURIList([]byte("# nothing\n"))
	for _, tc := range []struct {
		err    error
		code   int
		header string
	}{
		{bad, Status404, HeaderNoInputTimeout},
		{fmt.Errorf("recognize: %w", bad), Status404, HeaderNoInputTimeout},
		{&StatusError{Code: Status402, Reason: "busy"}, Status402, ""},
		{list, Status408, HeaderContentType},
		{errors.New("disk full"), Status501, ""},
	} {
		if code, header := StatusOf(tc.err); code != tc.code || header != tc.header {
			t.Errorf("StatusOf(%v) = %d %q, want %d %q", tc.err, code, header, tc.code, tc.header)
		}
	}
}
