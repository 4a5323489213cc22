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

// s3Mixw is an s3 mixture_weights file read: sizes, weights ([senone][stream][density]) and how
// many bytes follow them (sphinxtrain may append a checksum).
type s3Mixw struct {
	nsen, nfeat, ndens int
	w                  []float32
	rest               int
}

func readS3Mixw(path string) (*s3Mixw, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pocketsphinx: adapt: %w", err)
	}
	bad := func(why string) error { return fmt.Errorf("pocketsphinx: adapt: %s: %s", path, why) }
	i := bytes.Index(b, []byte("endhdr\n"))
	if i < 0 || !bytes.HasPrefix(b, []byte("s3\n")) {
		return nil, bad("not an s3 parameter file")
	}
	r := bytes.NewReader(b[i+len("endhdr\n"):])
	var hdr [5]uint32
	if err := binary.Read(r, binary.LittleEndian, &hdr); err != nil || hdr[0] != 0x11223344 {
		return nil, bad("not a little-endian s3 file")
	}
	m := &s3Mixw{nsen: int(hdr[1]), nfeat: int(hdr[2]), ndens: int(hdr[3])}
	if n := m.nsen * m.nfeat * m.ndens; int(hdr[4]) != n || 4*n > r.Len() {
		return nil, bad(fmt.Sprintf("%d weights for %d x %d x %d in %d bytes", hdr[4], m.nsen, m.nfeat, m.ndens, r.Len()))
	}
	m.w = make([]float32, hdr[4])
	binary.Read(r, binary.LittleEndian, m.w) // the size was checked
	m.rest = r.Len()
	return m, nil
}

// mixwToSendump writes the s3 mixture_weights file in as a sendump for pocketsphinx's -sendump,
// with model's header (the model's sendump, whose sizes it must have). Weights are quantised to
// the nearest step, so that the model's own come back as they were.
func mixwToSendump(model, in, out string) error {
	sd, err := readSendump(model)
	if err != nil {
		return err
	}
	m, err := readS3Mixw(in)
	if err != nil {
		return err
	}
	if m.nsen != sd.nsen || m.nfeat != sd.nfeat || m.ndens != sd.ndens {
		return fmt.Errorf("pocketsphinx: adapt: %s: %d senones x %d streams x %d densities, the model %d x %d x %d",
			in, m.nsen, m.nfeat, m.ndens, sd.nsen, sd.nfeat, sd.ndens)
	}
	dump := make([]byte, sd.body+m.nfeat*m.ndens*m.nsen)
	copy(dump, sd.raw[:sd.body])
	step := math.Log(1.0001) * float64(int(1)<<sd.shift)
	for s := range m.nsen {
		for f := range m.nfeat {
			for g := range m.ndens {
				q := 255
				if w := m.w[(s*m.nfeat+f)*m.ndens+g]; w > 0 {
					q = min(255, max(0, int(math.Round(-math.Log(float64(w))/step))))
				}
				dump[sd.body+(f*m.ndens+g)*m.nsen+s] = byte(q)
			}
		}
	}
	return os.WriteFile(out, dump, 0o644)
}
