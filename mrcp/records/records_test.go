package records

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStdoutLines(t *testing.T) {
	var out bytes.Buffer
	w, err := Open(Config{Path: "-"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	conf := 0.5
	w.Write(&Record{Time: at, Kind: "recognize", CallID: "c1", Ended: "complete", Cause: "000 success",
		Confidence: &conf, SetupMS: Millis(1500 * time.Microsecond), DurationMS: 10})
	w.Write(&Record{Time: at, Kind: "speak", CallID: "c2", Ended: "stop"})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %q", len(lines), out.String())
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatal(err)
	}
	if m["time"] != "2026-01-02T03:04:05Z" || m["setup_ms"] != 1.5 || m["confidence"] != 0.5 || m["completion_cause"] != "000 success" {
		t.Fatalf("record %s", lines[0])
	}
	if strings.Contains(lines[1], "confidence") || strings.Contains(lines[1], "setup_ms") {
		t.Fatalf("unset fields written: %s", lines[1])
	}
}

// TestRotate: the file is rotated before a record would take it past MaxBytes, Keep old files
// are kept, and every record is in exactly one of them.
func TestRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "records.jsonl")
	w, err := Open(Config{Path: path, MaxBytes: 400, Keep: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := w.Write(&Record{Kind: "recognize", RequestID: uint32(i), Ended: "complete"}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	seen := map[uint32]bool{}
	for _, p := range []string{path, path + ".1", path + ".2"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 400 {
			t.Fatalf("%s has %d bytes", p, len(b))
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			var r Record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			seen[r.RequestID] = true
		}
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Fatal("more than Keep old files")
	}
	if !seen[19] || !seen[18] || len(seen) < 6 {
		t.Fatalf("records kept: %v", seen)
	}
}
