package engine

/*
#cgo pkg-config: pocketsphinx sphinxbase
#include <stdlib.h>
#include <pocketsphinx.h>
#include <sphinxbase/feat.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/fe.h>
#include <sphinxbase/err.h>

// mrcpd_ps_quiet turns sphinxbase's logging off for the whole process. Not -logfn per decoder:
// ps_init hands it to err_set_logfile, which fcloses the process-wide log file and opens another,
// so a decoder created while another logged (every ps_end_utt does) or was created crashed the
// plugin (SIGSEGV in mrcpd_ps_init, two decoders created at once).
static void mrcpd_ps_quiet(void) {
	err_set_logfp(NULL);
}

static int mrcpd_ps_log_open(void) {
	return err_get_logfp() != NULL;
}

static ps_decoder_t *mrcpd_ps_init(int argc, char **argv) {
	cmd_ln_t *config = cmd_ln_parse_r(NULL, ps_args(), argc, argv, FALSE);
	if (config == NULL) {
		return NULL;
	}
	ps_decoder_t *ps = ps_init(config);
	cmd_ln_free_r(config);
	return ps;
}

// mrcpd_ps_set_cmn resets the live cepstral mean so that every utterance starts from the same
// estimate, whatever the previous caller on this pooled decoder sounded like.
static void mrcpd_ps_set_cmn(ps_decoder_t *ps, float *vec, int n) {
	feat_t *f = ps_get_feat(ps);
	if (f == NULL || f->cmn_struct == NULL || f->cmn_struct->veclen > 64) {
		return;
	}
	mfcc_t tmp[64];
	int i;
	for (i = 0; i < f->cmn_struct->veclen; i++) {
		tmp[i] = i < n ? (mfcc_t)vec[i] : 0;
	}
	cmn_live_set(f->cmn_struct, tmp);
}

static int mrcpd_ps_get_cmn(ps_decoder_t *ps, float *vec, int n) {
	feat_t *f = ps_get_feat(ps);
	if (f == NULL || f->cmn_struct == NULL || f->cmn_struct->veclen > 64) {
		return 0;
	}
	mfcc_t tmp[64];
	int i;
	cmn_live_get(f->cmn_struct, tmp);
	for (i = 0; i < f->cmn_struct->veclen && i < n; i++) {
		vec[i] = (float)tmp[i];
	}
	return i;
}

// mrcpd_ps_cep_mean runs pcm through the decoder's front end only (no search) and stores the mean
// cepstrum of the frames it keeps (the voice-activity detector drops silence as in a search):
// the mean live CMN converges to when the utterance is decoded again and again. It returns the
// number of frames, 0 on failure. Call it between utterances: it restarts the front end.
static int mrcpd_ps_cep_mean(ps_decoder_t *ps, const int16 *pcm, size_t n, float *out, int max, int *frames) {
	fe_t *fe = ps_get_fe(ps);
	if (fe == NULL) {
		return 0;
	}
	int ncep = fe_get_output_size(fe);
	if (ncep <= 0 || ncep > max || ncep > 64) {
		return 0;
	}
	enum { BATCH = 128 };
	mfcc_t *store = calloc(BATCH * ncep, sizeof(mfcc_t));
	mfcc_t *rows[BATCH];
	double sum[64] = {0};
	int i, j, total = 0, guard = 0;
	if (store == NULL) {
		return 0;
	}
	for (i = 0; i < BATCH; i++) {
		rows[i] = store + i * ncep;
	}
	fe_start_utt(fe);
	while (n > 0 && guard++ < 100000) {
		int32 nfr = BATCH;
		if (fe_process_frames(fe, &pcm, &n, rows, &nfr, NULL) < 0) {
			break;
		}
		for (i = 0; i < nfr; i++) {
			if (rows[i][0] < 0) {
				continue; // live CMN skips frames of negative energy too (cmn_live)
			}
			for (j = 0; j < ncep; j++) {
				sum[j] += rows[i][j];
			}
			total++;
		}
	}
	int32 last = 0;
	fe_end_utt(fe, rows[0], &last);
	if (last > 0 && rows[0][0] >= 0) {
		for (j = 0; j < ncep; j++) {
			sum[j] += rows[0][j];
		}
		total += last;
	}
	free(store);
	for (j = 0; j < ncep && total > 0; j++) {
		out[j] = (float)(sum[j] / total);
	}
	*frames = total;
	return total > 0 ? ncep : 0;
}

// mrcpd_ps_cepstra runs pcm through the decoder's front end only and copies up to max frames of
// cepstra into out (ncep floats each), the frames a search would see (the voice-activity detector
// drops silence the same way). It returns the number of frames, -1 on failure. Call it between
// utterances: it restarts the front end.
static int mrcpd_ps_cepstra(ps_decoder_t *ps, const int16 *pcm, size_t n, float *out, int max, int ncepWant) {
	fe_t *fe = ps_get_fe(ps);
	if (fe == NULL || fe_get_output_size(fe) != ncepWant) {
		return -1;
	}
	enum { BATCH = 128 };
	int ncep = ncepWant, i, j, total = 0, guard = 0;
	mfcc_t *store = calloc(BATCH * ncep, sizeof(mfcc_t));
	mfcc_t *rows[BATCH];
	if (store == NULL) {
		return -1;
	}
	for (i = 0; i < BATCH; i++) {
		rows[i] = store + i * ncep;
	}
	fe_start_utt(fe);
	while (n > 0 && guard++ < 100000) {
		int32 nfr = BATCH;
		if (fe_process_frames(fe, &pcm, &n, rows, &nfr, NULL) < 0) {
			break;
		}
		for (i = 0; i < nfr && total < max; i++, total++) {
			for (j = 0; j < ncep; j++) {
				out[total * ncep + j] = (float)rows[i][j];
			}
		}
	}
	int32 last = 0;
	fe_end_utt(fe, rows[0], &last);
	if (last > 0 && total < max) {
		for (j = 0; j < ncep; j++) {
			out[total * ncep + j] = (float)rows[0][j];
		}
		total++;
	}
	free(store);
	return total;
}

// mrcpd_ps_word_posts builds the finished utterance's word lattice, its best path and the link
// posteriors at acoustic scale ascale, and writes the log posterior (base 1.0001) of each word on
// the best path, last word first and fillers included, into out (names into words). It returns
// the number of words, -1 when there is no lattice.
static int mrcpd_ps_word_posts(ps_decoder_t *ps, float ascale, int32 *out, const char **words, int max) {
	ps_lattice_t *dag = ps_get_lattice(ps);
	if (dag == NULL) {
		return -1;
	}
	ps_latlink_t *link = ps_lattice_bestpath(dag, NULL, 1.0, ascale);
	if (link == NULL) {
		return -1;
	}
	ps_lattice_posterior(dag, NULL, ascale);
	int n = 0;
	for (; link != NULL && n < max; link = ps_latlink_pred(link)) {
		int32 ascr;
		out[n] = ps_latlink_prob(dag, link, &ascr);
		words[n] = ps_latlink_word(dag, link);
		n++;
	}
	return n;
}

static const char *mrcpd_ps_str(ps_decoder_t *ps, const char *name) {
	return cmd_ln_str_r(ps_get_config(ps), name);
}

static double mrcpd_ps_float(ps_decoder_t *ps, const char *name) {
	return cmd_ln_float_r(ps_get_config(ps), name);
}

static void mrcpd_ps_set_float(ps_decoder_t *ps, char *name, double v) {
	cmd_ln_set_float_r(ps_get_config(ps), name, v);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"
)

// initMu serialises ps_init: sphinxbase keeps process-wide state (its log, see mrcpd_ps_quiet)
// that decoder creation touches, and decoders are created on demand by concurrent streams.
var (
	initMu    sync.Mutex
	quietOnce sync.Once
)

// decoder wraps one ps_decoder_t. It is not safe for concurrent use: a decoder is owned by one
// stream goroutine at a time (the pool hands it out exclusively).
type decoder struct {
	ps       *C.ps_decoder_t
	cmninit  []float32
	words    map[string]bool // words added to the dictionary so far
	searches map[string]bool // searches (compiled grammars) loaded so far, by name
	kind     decoderKind
}

// decoderKind is what a decoder was loaded with: the pool hands a decoder only to a stream that
// wants its kind.
type decoderKind uint8

const (
	grammarDecoder   decoderKind = iota // the words of its grammars, added on demand; the means setting
	dictationDecoder                    // the full dictionary and the language model
	digitDecoder                        // a grammar decoder with the digit_means, for digit-only grammars
)

// newDecoder creates a decoder from pocketsphinx command-line style arguments.
func newDecoder(args []string, cmninit []float32, kind decoderKind) (*decoder, error) {
	argv := make([]*C.char, len(args))
	for i, a := range args {
		argv[i] = C.CString(a)
	}
	defer func() {
		for _, p := range argv {
			C.free(unsafe.Pointer(p))
		}
	}()
	var argp **C.char
	if len(argv) > 0 {
		argp = (**C.char)(unsafe.Pointer(&argv[0]))
	}
	quietOnce.Do(func() { C.mrcpd_ps_quiet() })
	initMu.Lock()
	ps := C.mrcpd_ps_init(C.int(len(argv)), argp)
	initMu.Unlock()
	if ps == nil {
		return nil, fmt.Errorf("pocketsphinx: ps_init failed (args %q)", strings.Join(args, " "))
	}
	return &decoder{ps: ps, cmninit: cmninit, words: map[string]bool{}, searches: map[string]bool{}, kind: kind}, nil
}

// logOpen says sphinxbase's process-wide log is open (it should not be once a decoder exists).
func logOpen() bool { return C.mrcpd_ps_log_open() != 0 }

func (d *decoder) free() {
	if d.ps != nil {
		C.ps_free(d.ps)
		d.ps = nil
	}
}

// addWords adds pronunciations (word -> phone strings) to the dictionary. Alternates are named
// word(2), word(3)... as in cmudict.
func (d *decoder) addWords(prons map[string][]string) error {
	var names, phones []string
	for w, ps := range prons {
		if d.words[w] {
			continue
		}
		for i, p := range ps {
			name := w
			if i > 0 {
				name = fmt.Sprintf("%s(%d)", w, i+1)
			}
			names = append(names, name)
			phones = append(phones, p)
		}
		d.words[w] = true
	}
	for i := range names {
		cw, cp := C.CString(names[i]), C.CString(phones[i])
		update := C.int(0)
		if i == len(names)-1 {
			update = 1
		}
		rc := C.ps_add_word(d.ps, cw, cp, update)
		C.free(unsafe.Pointer(cw))
		C.free(unsafe.Pointer(cp))
		if rc < 0 {
			return fmt.Errorf("pocketsphinx: cannot add word %q /%s/", names[i], phones[i])
		}
	}
	return nil
}

// setJSGF compiles a JSGF grammar as search name (once per decoder) and activates it. Word
// insertion penalty and beams are read when a search is built, so they are part of the search:
// params ("-wip", "-beam", ...) are set in the decoder's configuration first.
func (d *decoder) setJSGF(name, jsgf string, params map[string]float64) error {
	if !d.searches[name] {
		for k, v := range params {
			ck := C.CString(k)
			C.mrcpd_ps_set_float(d.ps, ck, C.double(v))
			C.free(unsafe.Pointer(ck))
		}
		cn, cj := C.CString(name), C.CString(jsgf)
		rc := C.ps_set_jsgf_string(d.ps, cn, cj)
		C.free(unsafe.Pointer(cn))
		C.free(unsafe.Pointer(cj))
		if rc < 0 {
			return errors.New("pocketsphinx: JSGF grammar rejected")
		}
		d.searches[name] = true
	}
	return d.use(name)
}

// setLM loads a language model file as search name (once per decoder) and activates it.
func (d *decoder) setLM(name, path string) error {
	if !d.searches[name] {
		cn, cp := C.CString(name), C.CString(path)
		rc := C.ps_set_lm_file(d.ps, cn, cp)
		C.free(unsafe.Pointer(cn))
		C.free(unsafe.Pointer(cp))
		if rc < 0 {
			return fmt.Errorf("pocketsphinx: cannot load language model %s", path)
		}
		d.searches[name] = true
	}
	return d.use(name)
}

func (d *decoder) use(name string) error {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	if C.ps_set_search(d.ps, cn) < 0 {
		return fmt.Errorf("pocketsphinx: no search %q", name)
	}
	return nil
}

// dropSearch unloads a search to bound the memory a long-lived decoder holds.
func (d *decoder) dropSearch(name string) {
	if !d.searches[name] {
		return
	}
	cn := C.CString(name)
	C.ps_unset_search(d.ps, cn)
	C.free(unsafe.Pointer(cn))
	delete(d.searches, name)
}

// cmnMean is the live cepstral mean after the last utterance (for calibrating CMNInit).
func (d *decoder) cmnMean() []float32 {
	v := make([]float32, 64)
	n := C.mrcpd_ps_get_cmn(d.ps, (*C.float)(unsafe.Pointer(&v[0])), 64)
	return v[:n]
}

// cepMean is the mean cepstrum of pcm's speech frames, computed by the front end alone (the
// fixed point that decoding the utterance again and again from the mean the previous pass ended
// on converges to), and how many frames live CMN counts in it. Nil if it kept no frame.
func (d *decoder) cepMean(pcm []int16) ([]float32, int) {
	if len(pcm) == 0 {
		return nil, 0
	}
	v := make([]float32, 64)
	var frames C.int
	n := C.mrcpd_ps_cep_mean(d.ps, (*C.int16)(unsafe.Pointer(&pcm[0])), C.size_t(len(pcm)), (*C.float)(unsafe.Pointer(&v[0])), 64, &frames)
	return v[:n], int(frames)
}

// cepstra returns the cepstra (ncep per frame) the decoder's front end makes of pcm: the
// features a search would see, for estimating an adaptation transform on them.
func (d *decoder) cepstra(pcm []int16) ([][]float32, error) {
	const ncep = 13
	if len(pcm) == 0 {
		return nil, nil
	}
	maxFrames := len(pcm)/160 + 2 // 10 ms frames at 16 kHz
	flat := make([]float32, maxFrames*ncep)
	n := C.mrcpd_ps_cepstra(d.ps, (*C.int16)(unsafe.Pointer(&pcm[0])), C.size_t(len(pcm)), (*C.float)(unsafe.Pointer(&flat[0])), C.int(maxFrames), ncep)
	if n < 0 {
		return nil, errors.New("pocketsphinx: front end failed")
	}
	out := make([][]float32, n)
	for i := range out {
		out[i] = flat[i*ncep : (i+1)*ncep]
	}
	return out, nil
}

// configString and configFloat read the decoder's effective configuration.
func (d *decoder) configString(name string) string {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	if v := C.mrcpd_ps_str(d.ps, cn); v != nil {
		return C.GoString(v)
	}
	return ""
}

func (d *decoder) configFloat(name string) float64 {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	return float64(C.mrcpd_ps_float(d.ps, cn))
}

func (d *decoder) start() error {
	if len(d.cmninit) > 0 {
		C.mrcpd_ps_set_cmn(d.ps, (*C.float)(unsafe.Pointer(&d.cmninit[0])), C.int(len(d.cmninit)))
	}
	if C.ps_start_utt(d.ps) < 0 {
		return errors.New("pocketsphinx: ps_start_utt failed")
	}
	return nil
}

// process feeds 16-bit PCM; fullUtt says pcm is the whole utterance (batch CMN applies).
func (d *decoder) process(pcm []int16, fullUtt bool) error {
	if len(pcm) == 0 {
		return nil
	}
	full := C.int(0)
	if fullUtt {
		full = 1
	}
	if C.ps_process_raw(d.ps, (*C.int16)(unsafe.Pointer(&pcm[0])), C.size_t(len(pcm)), 0, full) < 0 {
		return errors.New("pocketsphinx: ps_process_raw failed")
	}
	return nil
}

func (d *decoder) inSpeech() bool { return C.ps_get_in_speech(d.ps) != 0 }

func (d *decoder) end() error {
	if C.ps_end_utt(d.ps) < 0 {
		return errors.New("pocketsphinx: ps_end_utt failed")
	}
	return nil
}

// hyp returns the current best hypothesis and its path score (log base 1.0001 units).
func (d *decoder) hyp() (string, int32) {
	var score C.int32
	h := C.ps_get_hyp(d.ps, &score)
	if h == nil {
		return "", 0
	}
	return C.GoString(h), int32(score)
}

// wordPosteriors is the log posterior (base 1.0001) of each word of the best path through the
// finished utterance's lattice, first word first, at acoustic scale ascale; nil without a lattice.
func (d *decoder) wordPosteriors(ascale float64) []segment {
	const max = 64
	var posts [max]C.int32
	var words [max]*C.char
	n := int(C.mrcpd_ps_word_posts(d.ps, C.float(ascale), &posts[0], &words[0], max))
	if n <= 0 {
		return nil
	}
	out := make([]segment, n)
	for i := range n {
		out[n-1-i] = segment{word: C.GoString(words[i]), post: int32(posts[i])}
	}
	return out
}

// frames is the number of frames (10 ms) searched in this utterance.
func (d *decoder) frames() int { return int(C.ps_get_n_frames(d.ps)) }

// segment is one word of a hypothesis with its frames (inclusive) and acoustic score.
type segment struct {
	word   string
	sf, ef int
	ascr   int32
	post   int32 // wordPosteriors: log posterior (base 1.0001) in the utterance's lattice
}

func readSegs(it *C.ps_seg_t) []segment {
	var segs []segment
	for ; it != nil; it = C.ps_seg_next(it) {
		var sf, ef C.int
		var ascr, lscr, lback C.int32
		C.ps_seg_frames(it, &sf, &ef)
		C.ps_seg_prob(it, &ascr, &lscr, &lback)
		segs = append(segs, segment{word: C.GoString(C.ps_seg_word(it)), sf: int(sf), ef: int(ef), ascr: int32(ascr)})
	}
	return segs
}

// segments is the word segmentation of the best hypothesis.
func (d *decoder) segments() []segment { return readSegs(C.ps_seg_iter(d.ps)) }

// hypothesis is one n-best entry.
type hypothesis struct {
	text  string
	score int32
	segs  []segment
}

// nbest returns up to n distinct hypotheses, best first.
func (d *decoder) nbest(n int) []hypothesis {
	var out []hypothesis
	seen := map[string]bool{}
	it := C.ps_nbest(d.ps)
	// The A* search yields duplicates (same words, other segmentations); bound the walk.
	for steps := 0; it != nil && len(out) < n && steps < 50*n; steps++ {
		var score C.int32
		h := C.ps_nbest_hyp(it, &score)
		if h != nil {
			text := C.GoString(h)
			if !seen[text] {
				seen[text] = true
				out = append(out, hypothesis{text: text, score: int32(score), segs: readSegs(C.ps_nbest_seg(it))})
			}
		}
		it = C.ps_nbest_next(it)
	}
	if it != nil {
		C.ps_nbest_free(it)
	}
	return out
}

func (k decoderKind) String() string {
	switch k {
	case dictationDecoder:
		return "dictation"
	case digitDecoder:
		return "digit"
	}
	return "grammar"
}
