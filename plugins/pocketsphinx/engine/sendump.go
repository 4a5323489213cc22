package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"
)

// Mixture weights in two formats. pocketsphinx reads a phonetically tied model's mixture weights
// from its quantised sendump (header strings, then for each feature stream and each of the
// codebook's densities one byte per senone: -log1.0001(weight) >> mixw_shift); sphinxtrain's bw
// and map_adapt read and write an s3 mixture_weights file of float32 ([senone][stream][density]).
// Debian's model ships only the sendump.

// sendumpFile is a parsed sendump: its header (kept as it is for writing another) and sizes.
type sendumpFile struct {
	raw                       []byte
	body                      int // offset of the weights
	nfeat, ndens, nsen, shift int
}

func readSendump(path string) (*sendumpFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pocketsphinx: adapt: %w", err)
	}
	bad := func(why string) error { return fmt.Errorf("pocketsphinx: adapt: %s: %s", path, why) }
	le := binary.LittleEndian
	sd := &sendumpFile{raw: b, nfeat: 1, shift: 10}
	off := 0
	u32 := func() (int, bool) {
		if off+4 > len(b) {
			return 0, false
		}
		v := le.Uint32(b[off:])
		off += 4
		return int(v), true
	}
	for first := true; ; first = false {
		n, ok := u32()
		if !ok || n > 65536 {
			return nil, bad("not a little-endian sendump")
		}
		if n == 0 {
			break
		}
		if off+n > len(b) {
			return nil, bad("truncated header")
		}
		s := strings.TrimRight(string(b[off:off+n]), "\x00")
		off += n
		if first {
			continue // the format description
		}
		k, v, _ := strings.Cut(s, " ")
		var x int
		fmt.Sscan(v, &x)
		switch k {
		case "feature_count":
			sd.nfeat = x
		case "mixw_shift":
			sd.shift = x
		case "cluster_count":
			if x != 0 {
				return nil, bad("clustered sendump not supported")
			}
		}
	}
	var ok1, ok2 bool
	sd.ndens, ok1 = u32()
	sd.nsen, ok2 = u32()
	sd.body = off
	if sd.nfeat < 1 || sd.nfeat > 64 || sd.shift < 0 || sd.shift > 20 {
		return nil, bad(fmt.Sprintf("feature_count %d or mixw_shift %d out of range", sd.nfeat, sd.shift))
	}
	if !ok1 || !ok2 || sd.ndens <= 0 || sd.nsen <= 0 || sd.ndens > 1<<16 || sd.nsen > 1<<20 || off+sd.nfeat*sd.ndens*sd.nsen != len(b) {
		return nil, bad("sizes do not match the file")
	}
	return sd, nil
}

// sendumpToMixw rebuilds the s3 mixture_weights file bw reads from the model's sendump (the
// inverse of sphinxtrain's mk_s2sendump).
func sendumpToMixw(in, out string) error {
	sd, err := readSendump(in)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	var w bytes.Buffer
	w.WriteString("s3\nversion 1.0\nendhdr\n")
	for _, v := range []uint32{0x11223344, uint32(sd.nsen), uint32(sd.nfeat), uint32(sd.ndens), uint32(sd.nsen * sd.nfeat * sd.ndens)} {
		binary.Write(&w, le, v)
	}
	vals := make([]float32, sd.nsen*sd.nfeat*sd.ndens)
	for f := 0; f < sd.nfeat; f++ {
		for g := 0; g < sd.ndens; g++ {
			row := sd.raw[sd.body+(f*sd.ndens+g)*sd.nsen:]
			for s := 0; s < sd.nsen; s++ {
				vals[(s*sd.nfeat+f)*sd.ndens+g] = float32(math.Pow(1.0001, -float64(int(row[s])<<sd.shift)))
			}
		}
	}
	binary.Write(&w, le, vals)
	return os.WriteFile(out, w.Bytes(), 0o644)
}

// mixwToSendump writes the s3 mixture_weights file in as a sendump for pocketsphinx's -sendump,
// with model's header (the model's sendump, whose sizes it must have). Weights are quantised to
// the nearest step, so that the model's own come back as they were.
func mixwToSendump(model, in, out string) error {
	sd, err := readSendump(model)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(in)
	if err != nil {
		return fmt.Errorf("pocketsphinx: adapt: %w", err)
	}
	bad := func(why string) error { return fmt.Errorf("pocketsphinx: adapt: %s: %s", in, why) }
	le := binary.LittleEndian
	i := bytes.Index(b, []byte("endhdr\n"))
	if i < 0 || !bytes.HasPrefix(b, []byte("s3\n")) {
		return bad("not an s3 parameter file")
	}
	p := i + len("endhdr\n")
	if p+20 > len(b) || le.Uint32(b[p:]) != 0x11223344 {
		return bad("not a little-endian s3 file")
	}
	nsen, nfeat, ndens := int(le.Uint32(b[p+4:])), int(le.Uint32(b[p+8:])), int(le.Uint32(b[p+12:]))
	p += 20
	if nsen != sd.nsen || nfeat != sd.nfeat || ndens != sd.ndens || p+4*nsen*nfeat*ndens > len(b) {
		return bad(fmt.Sprintf("%d senones x %d streams x %d densities, the model %d x %d x %d", nsen, nfeat, ndens, sd.nsen, sd.nfeat, sd.ndens))
	}
	weight := func(s, f, g int) float64 {
		return float64(math.Float32frombits(le.Uint32(b[p+4*((s*nfeat+f)*ndens+g):])))
	}
	dump := make([]byte, sd.body+nfeat*ndens*nsen)
	copy(dump, sd.raw[:sd.body])
	step := math.Log(1.0001) * float64(int(1)<<sd.shift)
	for s := 0; s < nsen; s++ {
		for f := 0; f < nfeat; f++ {
			for g := 0; g < ndens; g++ {
				q := 255
				if w := weight(s, f, g); w > 0 {
					q = min(255, max(0, int(math.Round(-math.Log(w)/step))))
				}
				dump[sd.body+(f*ndens+g)*nsen+s] = byte(q)
			}
		}
	}
	return os.WriteFile(out, dump, 0o644)
}
