package mrcp

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/mrcpd/mrcpd/mrcp/mrcptest"
)

func readFixture(b *testing.B, rel string) []byte {
	b.Helper()
	in, err := os.ReadFile(filepath.Join(mrcptest.Fixtures(b), rel))
	if err != nil {
		b.Fatal(err)
	}
	return in
}

// BenchmarkParseRecognize parses mod_unimrcp's RECOGNIZE (target: <= 2 us, <= 10 allocs/op).
func BenchmarkParseRecognize(b *testing.B) {
	in := readFixture(b, "freeswitch-mod_unimrcp/03-RECOGNIZE-builtin-boolean.mrcp")
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppend serialises the reference server's RECOGNITION-COMPLETE into a reused buffer.
func BenchmarkAppend(b *testing.B) {
	m, err := Parse(readFixture(b, "unimrcp-server-1.8/RECOGNITION-COMPLETE-nlsml.mrcp"))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = m.Append(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkDecode reads RECOGNIZE messages back to back from one stream, as the control
// connection does.
func BenchmarkDecode(b *testing.B) {
	in := readFixture(b, "freeswitch-mod_unimrcp/03-RECOGNIZE-builtin-boolean.mrcp")
	stream := bytes.Repeat(in, 1000)
	r := bytes.NewReader(stream)
	d := NewDecoder(r, 0)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(); err != nil {
			r.Reset(stream)
			d = NewDecoder(r, 0)
		}
	}
}
