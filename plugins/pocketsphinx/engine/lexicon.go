package engine

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
)

// lexicon is the pronunciation dictionary held once per process. Decoders for grammars get only
// the words their grammars use (a decoder with the whole of cmudict costs ~28 MB, with a few
// words ~6 MB).
type lexicon struct {
	prons map[string][]string // lower-case word -> phone strings, main pronunciation first
}

// accentVariants are pronunciations cmudict lacks that the tuning set's speakers needed (issue 14,
// sixth round): in West Midlands English "nine" is /nɔɪn/, and the model, knowing only N AY N,
// heard it as "one" (the drawn West Midlands speakers' digit strings 6 of 24 right, 9 of 24 with
// it). Each was kept only if it took the tuning set's digit strings further without a wrong
// string more; the others tried (five F OY V, four F AO, zero Z IH R AH, one W AA N, three T R
// IY, oh AO) did not (ACCURACY.md, "Accent pronunciations").
var accentVariants = map[string][]string{
	"nine": {"N OY N"},
}

// loadLexicon reads a cmudict-format dictionary; with variants, accentVariants are added to the
// words it has.
func loadLexicon(path string, variants bool) (*lexicon, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pocketsphinx: dictionary: %w", err)
	}
	defer f.Close()
	lx := &lexicon{prons: make(map[string][]string, 140000)}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		word, phones, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexByte(word, '('); i > 0 {
			word = word[:i]
		}
		if j := strings.Index(phones, " #"); j >= 0 { // trailing comments
			phones = phones[:j]
		}
		word = strings.ToLower(word)
		lx.prons[word] = append(lx.prons[word], strings.TrimSpace(phones))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("pocketsphinx: dictionary %s: %w", path, err)
	}
	if variants {
		lx.addVariants(accentVariants)
	}
	return lx, nil
}

// addVariants appends pronunciations to the words the dictionary has, after its own and once.
func (lx *lexicon) addVariants(v map[string][]string) {
	for w, prons := range v {
		have, ok := lx.prons[w]
		if !ok {
			continue
		}
		for _, p := range prons {
			if !slices.Contains(have, p) {
				have = append(have, p)
			}
		}
		lx.prons[w] = have
	}
}

// lookup returns the pronunciations of words and the words it does not know (sorted).
func (lx *lexicon) lookup(words []string) (map[string][]string, []string) {
	found := make(map[string][]string, len(words))
	var missing []string
	for _, w := range words {
		w = strings.ToLower(w)
		if p, ok := lx.prons[w]; ok {
			found[w] = p
		} else if _, dup := found[w]; !dup && !slices.Contains(missing, w) {
			missing = append(missing, w)
		}
	}
	sort.Strings(missing)
	return found, missing
}
