package engine

// Coverage (issue 14). An out-of-grammar phrase said against a short grammar ("could you repeat
// that" against a menu) can come back as one of the grammar's words with silence or noise
// filling the rest: the word fits its part of the speech well, and the gap to the phone loop,
// an average over every searched frame, fillers included, does not see how much speech the
// grammar left unexplained. The phone loop spends phones on speech and fillers on silence, so
// its phone frames say how much speech there is; the share of them the hypothesis's words span
// joins the words' confidence curve as a log (Config.CoverageWeight). A right answer spans
// nearly all of it.

// coverageFloor bounds the log: a word over a twentieth of the speech is as bad as it gets.
const coverageFloor = 0.05

// coverage is the frames of hyp's words over the phone loop's phone frames, within
// [coverageFloor, 1] (1 when the phone loop found no speech).
func coverage(hyp, phones []segment) float64 {
	words, speech := speechFrames(hyp), speechFrames(phones)
	if speech == 0 {
		return 1
	}
	return min(1, max(coverageFloor, float64(words)/float64(speech)))
}

// speechFrames counts the frames of segs that are words (fillers and silence left out).
func speechFrames(segs []segment) int {
	n := 0
	for _, s := range segs {
		if !isFiller(s.word) {
			n += s.ef - s.sf + 1
		}
	}
	return n
}
