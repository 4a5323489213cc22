package mrcp

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/mrcpd/mrcpd/mrcp/mrcptest"
)

// goldenFiles lists every MRCP capture from real peers plus the RFC 6787 examples.
func goldenFiles(t testing.TB) []string {
	t.Helper()
	shared, err := filepath.Glob(filepath.Join(mrcptest.Fixtures(t), "*", "*.mrcp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(shared) == 0 {
		t.Fatal("no captured MRCP fixtures found")
	}
	rfc, err := filepath.Glob(filepath.Join("testdata", "rfc6787", "*.mrcp"))
	if err != nil {
		t.Fatal(err)
	}
	return append(shared, rfc...)
}

func TestGoldenRoundTrip(t *testing.T) {
	for _, path := range goldenFiles(t) {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			in, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			out, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(in, out) {
				t.Errorf("round trip differs\n--- in\n%q\n--- out\n%q", in, out)
			}
			// The same bytes through the stream decoder, one byte per read.
			d := NewDecoder(&oneByteReader{b: in}, 0)
			dm, err := d.Decode()
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := dm.Append(nil); !bytes.Equal(in, got) {
				t.Errorf("decoder round trip differs:\n%q", got)
			}
		})
	}
}

type oneByteReader struct{ b []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}
