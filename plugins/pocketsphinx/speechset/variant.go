package speechset

import (
	"fmt"
	"hash/fnv"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Random speakers (issue 14). espeak-ng makes a speaker of a voice variant: a small text file of
// formant scalings, pitch and voice quality (espeak-ng-data/voices/!v). The MAP means fit the
// speakers they are estimated on best, and espeak-ng ships only so many variants, most of which
// the held-out set uses; variants drawn at random (vocal tract length, formant strengths and
// bandwidths, pitch, roughness, breath) are as many more speakers as adaptation and tuning need,
// none of them a held-out speaker. The Klatt synthesizer's modes are not drawn: the held-out set
// has espeak-ng's Klatt variants.

// randomPrefix names the drawn variants; the rest of the name seeds them, so a Voice names its
// speaker completely.
const randomPrefix = "mrcpd"

// Drawn reports whether v is a drawn speaker (RandomVoices).
func (v Voice) Drawn() bool { return strings.Contains(v.Name, "+"+randomPrefix) }

// RandomVoices is n drawn speakers, each on one of espeak-ng's English voices in turn, at a rate
// of 120-200 words per minute; set keeps adaptation's ("a") and tuning's ("t") speakers apart.
func RandomVoices(set string, n int) []Voice {
	h := fnv.New64a()
	h.Write([]byte("voices " + set))
	r := rand.New(rand.NewSource(int64(h.Sum64() >> 1)))
	out := make([]Voice, n)
	for i := range out {
		out[i] = Voice{Synth: "espeak-ng", Name: fmt.Sprintf("%s+%s%s%03d", espeakEnglish[i%len(espeakEnglish)], randomPrefix, set, i),
			Speed: 120 + r.Intn(81)}
	}
	return out
}

// randomVariant is the variant file of a drawn speaker, from its name.
func randomVariant(name string) string {
	h := fnv.New64a()
	h.Write([]byte(name))
	r := rand.New(rand.NewSource(int64(h.Sum64() >> 1)))
	var b strings.Builder
	female := r.Intn(2) == 0
	fmt.Fprintf(&b, "language variant\nname %s\n", name)
	// Vocal tract length: formants scale together, women's and children's higher.
	tract, base, span := 0.86+0.2*r.Float64(), 65+r.Intn(50), 30+r.Intn(60)
	if female {
		tract, base, span = 1.0+0.2*r.Float64(), 130+r.Intn(80), 50+r.Intn(90)
		b.WriteString("gender female\n")
	} else {
		b.WriteString("gender male\n")
	}
	fmt.Fprintf(&b, "pitch %d %d\n", base, base+span)
	for f := 0; f <= 8; f++ {
		freq := 100.0
		if f > 0 {
			freq = 100 * tract * (0.95 + 0.1*r.Float64())
		}
		fmt.Fprintf(&b, "formant %d %d %d %d\n", f, int(freq), 70+r.Intn(61), 70+r.Intn(91))
	}
	fmt.Fprintf(&b, "roughness %d\nflutter %d\nvoicing %d\nconsonants %d %d\n",
		r.Intn(5), r.Intn(25), 70+r.Intn(51), 80+r.Intn(46), 80+r.Intn(46))
	if r.Intn(3) == 0 {
		fmt.Fprintf(&b, "breath %d %d %d %d %d %d %d %d\n", r.Intn(3), r.Intn(4), r.Intn(5), r.Intn(5), r.Intn(5), r.Intn(5), r.Intn(4), r.Intn(3))
	}
	return b.String()
}

// randomVariantOf is the drawn variant v speaks with ("" for espeak-ng's own).
func randomVariantOf(v Voice) string {
	if v.Synth != "espeak-ng" {
		return ""
	}
	_, va, ok := strings.Cut(v.Name, "+")
	if !ok || !strings.HasPrefix(va, randomPrefix) {
		return ""
	}
	return va
}

// espeakData is a copy of espeak-ng's data directory under dir (links to the installed files, the
// variant directory copied) with the drawn variants added as they are asked for, for espeak-ng's
// --path. It lives in the scratch directory, removed with it.
var espeakData struct {
	sync.Mutex
	written map[string]bool // dir/variant
}

// espeakPath prepares dir's data directory for variant and returns the --path value.
func espeakPath(dir, variant string) (string, error) {
	espeakData.Lock()
	defer espeakData.Unlock()
	if espeakData.written == nil {
		espeakData.written = map[string]bool{}
	}
	root := filepath.Join(dir, "espeak")
	vdir := filepath.Join(root, "espeak-ng-data", "voices", "!v")
	if !espeakData.written[dir] {
		if err := linkEspeakData(filepath.Join(root, "espeak-ng-data")); err != nil {
			return "", err
		}
		espeakData.written[dir] = true
	}
	if key := dir + "/" + variant; !espeakData.written[key] {
		if err := os.WriteFile(filepath.Join(vdir, variant), []byte(randomVariant(variant)), 0o644); err != nil {
			return "", err
		}
		espeakData.written[key] = true
	}
	return root, nil
}

// installedEspeakData is where Debian's espeak-ng keeps its data.
var installedEspeakData = []string{"/usr/lib/x86_64-linux-gnu/espeak-ng-data", "/usr/lib/aarch64-linux-gnu/espeak-ng-data", "/usr/share/espeak-ng-data"}

func linkEspeakData(to string) error {
	var from string
	for _, d := range installedEspeakData {
		if _, err := os.Stat(filepath.Join(d, "voices", "!v")); err == nil {
			from = d
			break
		}
	}
	if from == "" {
		return fmt.Errorf("speechset: espeak-ng's data directory not found in %s", strings.Join(installedEspeakData, ", "))
	}
	if err := os.MkdirAll(filepath.Join(to, "voices", "!v"), 0o755); err != nil {
		return err
	}
	link := func(sub string, skip string) error {
		ents, err := os.ReadDir(filepath.Join(from, sub))
		if err != nil {
			return err
		}
		for _, e := range ents {
			if e.Name() == skip {
				continue
			}
			if err := os.Symlink(filepath.Join(from, sub, e.Name()), filepath.Join(to, sub, e.Name())); err != nil && !os.IsExist(err) {
				return err
			}
		}
		return nil
	}
	if err := link("", "voices"); err != nil {
		return err
	}
	if err := link("voices", "!v"); err != nil {
		return err
	}
	return link(filepath.Join("voices", "!v"), "")
}
