package engine

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strings"
)

// lexicon is the pronunciation dictionary held once per process. Decoders for grammars get only
// the words their grammars use (a decoder with the whole of cmudict costs ~28 MB, with a few
// words ~6 MB).
type lexicon struct {
	prons map[string][]string // lower-case word -> phone strings, main pronunciation first
}

func loadLexicon(path string) (*lexicon, error) {
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
	return lx, nil
}

// lookup returns the pronunciations of words and the words it does not know (sorted).
func (lx *lexicon) lookup(words []string) (map[string][]string, []string) {
	found := make(map[string][]string, len(words))
	var missing []string
	for _, w := range words {
		w = strings.ToLower(w)
		if p, ok := lx.prons[w]; ok {
			found[w] = p
		} else if _, dup := found[w]; !dup && !contains(missing, w) {
			missing = append(missing, w)
		}
	}
	sort.Strings(missing)
	return found, missing
}

func contains(s []string, w string) bool {
	for _, x := range s {
		if x == w {
			return true
		}
	}
	return false
}
