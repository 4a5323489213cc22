package mrcp

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

var writeSeeds = flag.Bool("write-fuzz-seeds", false, "write testdata/fuzz seed files from the golden messages")

// TestWriteFuzzSeeds keeps the committed seed corpus in step with the golden files when run
// with -write-fuzz-seeds; otherwise it checks every golden message has a seed.
func TestWriteFuzzSeeds(t *testing.T) {
	for _, path := range goldenFiles(t) {
		in, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name := "seed-" + filepath.Base(filepath.Dir(path)) + "-" + filepath.Base(path)
		for _, target := range []string{"FuzzParse", "FuzzDecoder"} {
			seed := filepath.Join("testdata", "fuzz", target, name)
			if *writeSeeds {
				if err := os.MkdirAll(filepath.Dir(seed), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(seed, fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", in), 0o644); err != nil {
					t.Fatal(err)
				}
			} else if _, err := os.Stat(seed); err != nil {
				t.Errorf("no fuzz seed for %s (run go test -run TestWriteFuzzSeeds -write-fuzz-seeds): %v", path, err)
			}
		}
	}
}

// FuzzParse: nothing panics, and whatever parses re-serialises to bytes that parse again and
// serialise identically (the first Append may normalise line ends and add Content-Length).
func FuzzParse(f *testing.F) {
	f.Add([]byte("MRCP/2.0 72 STOP 2\r\nChannel-Identifier: 158859829a474f1a@speechrecog\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := Parse(in)
		if err != nil {
			return
		}
		checkStable(t, m)
	})
}

// FuzzDecoder: nothing panics, the messages decoded do not depend on how reads split the
// stream, and each decoded message is stable under Append/Parse.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte("MRCP/2.0 72 STOP 2\r\nChannel-Identifier: 158859829a474f1a@speechrecog\r\n\r\nMRCP/2.0 10 STOP 2\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		whole := decodeAll(bytes.NewReader(in))
		split := decodeAll(iotest.OneByteReader(bytes.NewReader(in)))
		if whole != split {
			t.Fatalf("decoding depends on read sizes:\nwhole: %s\nsplit: %s", whole, split)
		}
		d := NewDecoder(bytes.NewReader(in), 4096)
		for range 64 {
			m, err := d.Decode()
			if err != nil {
				if se, ok := err.(*StatusError); ok && !se.Fatal() {
					continue
				}
				return
			}
			checkStable(t, m)
		}
	})
}

func decodeAll(r io.Reader) string {
	d := NewDecoder(r, 4096)
	var out bytes.Buffer
	for range 64 {
		m, err := d.Decode()
		if err != nil {
			fmt.Fprintf(&out, "error %v\n", err)
			if se, ok := err.(*StatusError); ok && !se.Fatal() {
				continue
			}
			return out.String()
		}
		fmt.Fprintf(&out, "%q\n", m.Append(nil))
	}
	return out.String()
}

func checkStable(t *testing.T, m *Message) {
	t.Helper()
	b1 := m.Append(nil)
	m2, err := Parse(b1)
	if err != nil {
		t.Fatalf("serialised message does not parse: %v\n%q", err, b1)
	}
	if b2 := m2.Append(nil); !bytes.Equal(b1, b2) {
		t.Fatalf("not stable:\n%q\n%q", b1, b2)
	}
	if !bytes.Equal(m.Body, m2.Body) {
		t.Fatalf("body changed: %q -> %q", m.Body, m2.Body)
	}
}
