package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readMixw reads back an s3 mixture_weights file as sendumpToMixw writes it.
func readMixw(t *testing.T, path string) (nsen, nfeat, ndens int, w []float32) {
	t.Helper()
	m, err := readS3Mixw(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.rest != 0 {
		t.Fatalf("%d bytes left over", m.rest)
	}
	return m.nsen, m.nfeat, m.ndens, m.w
}

// TestSendumpToMixwModel: every senone's weights over each codebook are a distribution again
// (sendump keeps them to 8 bits of -log, so they sum to 1 within the quantisation).
func TestSendumpToMixwModel(t *testing.T) {
	out := filepath.Join(t.TempDir(), "mixture_weights")
	if err := sendumpToMixw(filepath.Join(DefaultAcousticModel, "sendump"), out); err != nil {
		t.Fatal(err)
	}
	nsen, nfeat, ndens, w := readMixw(t, out)
	if nsen != 5126 || nfeat != 3 || ndens != 128 {
		t.Fatalf("dimensions %d x %d x %d, want 5126 x 3 x 128 (the en-us model)", nsen, nfeat, ndens)
	}
	worst := 0.0
	for s := 0; s < nsen; s++ {
		for f := 0; f < nfeat; f++ {
			sum := 0.0
			for _, v := range w[(s*nfeat+f)*ndens : (s*nfeat+f+1)*ndens] {
				sum += float64(v)
			}
			worst = math.Max(worst, math.Abs(sum-1))
		}
	}
	if worst > 0.1 {
		t.Errorf("a senone's weights sum to 1 +- %.3f, want within 0.1", worst)
	}
}

// sendump builds a small sendump file: header strings, then [feature][density][senone] bytes.
func sendump(headers []string, ndens, nsen int, vals []byte) []byte {
	var b bytes.Buffer
	str := func(s string) {
		binary.Write(&b, binary.LittleEndian, uint32(len(s)+1))
		b.WriteString(s)
		b.WriteByte(0)
	}
	str("BEGIN FILE FORMAT DESCRIPTION\nEND FILE FORMAT DESCRIPTION")
	for _, h := range headers {
		str(h)
	}
	binary.Write(&b, binary.LittleEndian, uint32(0))
	binary.Write(&b, binary.LittleEndian, uint32(ndens))
	binary.Write(&b, binary.LittleEndian, uint32(nsen))
	b.Write(vals)
	return b.Bytes()
}

func TestSendumpToMixw(t *testing.T) {
	// 2 features x 2 densities x 3 senones; byte v is weight 1.0001^-(v<<10).
	vals := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	cases := []struct {
		name    string
		file    []byte
		wantErr string
	}{
		{"ok", sendump([]string{"cluster_count 0", "feature_count 2"}, 2, 3, vals), ""},
		{"clustered", sendump([]string{"cluster_count 256", "feature_count 2"}, 2, 3, vals), "clustered"},
		{"short data", sendump([]string{"feature_count 2"}, 2, 3, vals[:11]), "sizes"},
		{"long data", sendump([]string{"feature_count 2"}, 2, 3, append(vals, 0)), "sizes"},
		{"too many features", sendump([]string{"feature_count 1000000000"}, 2, 3, vals), "out of range"},
		{"truncated header", []byte{40, 0, 0, 0, 'a'}, "truncated"},
		{"big-endian", []byte{0, 0, 0, 40}, "not a little-endian"},
		{"empty", nil, "not a little-endian"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			in, out := filepath.Join(dir, "sendump"), filepath.Join(dir, "mixw")
			if err := os.WriteFile(in, c.file, 0o644); err != nil {
				t.Fatal(err)
			}
			err := sendumpToMixw(in, out)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			nsen, nfeat, ndens, w := readMixw(t, out)
			if nsen != 3 || nfeat != 2 || ndens != 2 {
				t.Fatalf("dimensions %d x %d x %d", nsen, nfeat, ndens)
			}
			// senone 1, feature 1, density 0 is sendump byte [f1][d0][s1] = vals[1*2*3+0*3+1] = 7.
			got, want := float64(w[(1*2+1)*2+0]), math.Pow(1.0001, -float64(7<<10))
			if math.Abs(got-want) > 1e-6*want {
				t.Errorf("weight %g, want %g", got, want)
			}
		})
	}
}

func FuzzSendump(f *testing.F) {
	f.Add(sendump([]string{"cluster_count 0", "feature_count 1"}, 1, 2, []byte{1, 2}))
	f.Add(sendump([]string{"mixw_shift 12"}, 2, 1, []byte{3, 4}))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		in := filepath.Join(dir, "sendump")
		if err := os.WriteFile(in, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_ = sendumpToMixw(in, filepath.Join(dir, "mixw")) // must not panic
	})
}

func TestWriteMFC(t *testing.T) {
	path := filepath.Join(t.TempDir(), "u.mfc")
	cep := [][]float32{{1, 2, 3}, {4, 5, 6}}
	if err := writeMFC(path, cep); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	// Sphinx reads the count, then checks it against the file size to tell the byte order.
	if n := binary.LittleEndian.Uint32(b); int(n) != 6 || len(b) != 4+4*6 {
		t.Fatalf("count %d, size %d", n, len(b))
	}
	if v := math.Float32frombits(binary.LittleEndian.Uint32(b[4+4*5:])); v != 6 {
		t.Errorf("last value %v", v)
	}
}

func TestAdaptRejects(t *testing.T) {
	if _, err := os.Stat(filepath.Join(SphinxTrainDir, "bw")); err != nil {
		t.Skip(ErrNoSphinxTrain)
	}
	e := newTestEngine(t, DefaultConfig())
	ctx := context.Background()
	one := make([]int16, 16000)
	for i := range one {
		one[i] = int16(3000 * math.Sin(float64(i)*0.3))
	}
	cases := []struct {
		name string
		utts []AdaptUtterance
		want string
	}{
		{"none", nil, "no utterances"},
		{"no words", []AdaptUtterance{{Text: "  ", PCM: one}}, "has no words"},
		{"unknown words", []AdaptUtterance{{Text: "hello flurbomatic zyxxq", PCM: one}}, "not in the dictionary: flurbomatic, zyxxq"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			err := e.Adapt(ctx, dir, filepath.Join(dir, "out.mllr"), c.utts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one containing %q", err, c.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "out.mllr")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a transform was written: %v", err)
			}
		})
	}
}

// TestAdaptTransform: the transform the test set is measured with is a global 39-dimensional
// MLLR transform in the format pocketsphinx loads, and a decoder starts with it.
func TestAdaptTransform(t *testing.T) {
	path := telephoneAdaptation(t).MLLR
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	// classes, streams, then per stream: its length, A (n x n), b (n), variance scale (n).
	if len(f) < 3 || f[0] != "1" || f[1] != "3" || f[2] != "13" {
		t.Fatalf("header %q, want 1 class, 3 streams of 13", f[:min(3, len(f))])
	}
	if want := 2 + 3*(1+13*13+13+13); len(f) != want {
		t.Fatalf("%d numbers, want %d", len(f), want)
	}
	cfg := DefaultConfig()
	cfg.MLLR = path
	decoderStarts(t, cfg)
}

// decoderStarts fails the test unless a decoder loads with cfg.
func decoderStarts(t *testing.T, cfg Config) {
	t.Helper()
	e := newTestEngine(t, cfg)
	d, err := e.pool.get(context.Background(), grammarDecoder, "")
	if err != nil {
		t.Fatalf("decoder: %v", err)
	}
	e.pool.put(d, true)
}

// TestAdaptMAPMeans: the MAP means the held-out set is measured with are an s3 means file of the
// model's shape (42 codebooks x 3 streams x 128 densities x 13), moved from the model's own means,
// and a decoder starts with them; the digit means of the second pass likewise, moved from those
// where digit strings have speech (98,948 of 209,672 values when measured: the codebooks of
// the digits' phones).
func TestAdaptMAPMeans(t *testing.T) {
	files := telephoneAdaptation(t)
	path, digitPath := files.Means, files.DigitMeans
	model, err := os.ReadFile(filepath.Join(DefaultAcousticModel, "means"))
	if err != nil {
		t.Skip(err)
	}
	means := meansMoved(t, path, model, 0.5)
	meansMoved(t, digitPath, means, 0.25)
	cfg := DefaultConfig()
	cfg.Means, cfg.DigitMeans = path, digitPath
	decoderStarts(t, cfg)
}

// meansMoved reads an s3 means file, fails the test unless it has model's shape and at least the
// share least of its values differ from model's, and returns it.
func meansMoved(t *testing.T, path string, model []byte, least float64) []byte {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(model) {
		t.Fatalf("%d bytes, the model's means %d", len(got), len(model))
	}
	hdr := bytes.Index(got, []byte("endhdr\n"))
	if !bytes.HasPrefix(got, []byte("s3\n")) || hdr < 0 {
		t.Fatalf("not an s3 parameter file: %q", got[:min(40, len(got))])
	}
	moved := 0
	for i := hdr + 7 + 4; i+4 <= len(got); i += 4 {
		if !bytes.Equal(got[i:i+4], model[i:i+4]) {
			moved++
		}
	}
	if n := (len(got) - hdr - 11) / 4; float64(moved) < least*float64(n) {
		t.Fatalf("%s: %d of %d means moved", path, moved, n)
	}
	return got
}

// TestAdaptedFilesMustExist: a missing mllr, means or mixture_weights file stops the plugin at
// start, naming the setting; so do mllr and means set at once (the means hold the transform
// already) and mixture weights without the means they were estimated with.
func TestAdaptedFilesMustExist(t *testing.T) {
	both, err := FromSettings(map[string]string{"mllr": os.DevNull, "means": os.DevNull})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(both); err == nil || !strings.Contains(err.Error(), "mllr and means") {
		t.Errorf("mllr and means both set: %v", err)
	}
	weightsAlone, err := FromSettings(map[string]string{"mixture_weights": os.DevNull})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(weightsAlone); err == nil || !strings.Contains(err.Error(), "mixture_weights needs means") {
		t.Errorf("mixture_weights without means: %v", err)
	}
	for _, key := range []string{"mllr", "means", "mixture_weights"} {
		settings := map[string]string{key: filepath.Join(t.TempDir(), "missing")}
		if key == "mixture_weights" {
			settings["means"] = os.DevNull
		}
		cfg, err := FromSettings(settings)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "setting "+key) {
			t.Errorf("%s missing: %v", key, err)
		}
	}
}
