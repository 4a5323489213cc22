package speechset

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"sync"
)

// More adaptation speakers (issue 14): espeak-ng's named voice variants that sound like a person
// (its novelty ones -- robots, whisper, croak, demonic, announcers -- left out). The held-out set
// uses only the numbered variants (m1-m8, f1-f5) and the Klatt ones, so none of these speakers is
// in it, and the transform and means estimated on them are measured on voices they never heard.
var adaptationVariants = []string{"Alex", "Alicia", "Andrea", "Andy", "Annie", "Denis", "Diogo", "Gene",
	"Gene2", "Henrique", "Hugo", "Jacky", "Lee", "Marco", "Mario", "Michael", "Mike", "Nguyen", "Storm",
	"adam", "anika", "antonio", "aunty", "belinda", "benjamin", "boris", "caleb", "david", "ed", "edward",
	"edward2", "grandma", "grandpa", "gustave", "iven", "iven2", "iven3", "iven4", "john", "kaukovalta",
	"linda", "marcelo", "max", "michel", "miguel", "norbert", "pablo", "paul", "pedro", "quincy", "rob",
	"robert", "sandro", "shelby", "steph", "steph2", "steph3", "travis", "victor", "zac"}

// ExtraAdaptationVoices is each of adaptationVariants on one of espeak-ng's English voices in
// turn, at a rate of 120-200 words per minute and a pitch of 30-70 drawn from a fixed seed.
func ExtraAdaptationVoices() []Voice {
	r := rand.New(rand.NewSource(4141))
	out := make([]Voice, len(adaptationVariants))
	for i, va := range adaptationVariants {
		out[i] = Voice{Synth: "espeak-ng", Name: espeakEnglish[i%len(espeakEnglish)] + "+" + va,
			Speed: 120 + r.Intn(81), Pitch: 30 + r.Intn(41)}
	}
	return out
}

// extraAdaptationScript is what each extra adaptation voice says: four digit strings of one to
// ten digits and two sentences (the adaptation sentences, which no held-out item says).
func extraAdaptationScript(voices []Voice) []Pair { return script(voices, 7777, 6, 4, 1, 10) }

// generatePairs synthesises pairs through the telephone channel, two at a time, named
// prefix-NNN in dir, in the order of pairs.
func generatePairs(ctx context.Context, dir, prefix string, pairs []Pair) ([]Utterance, error) {
	out := make([]Utterance, len(pairs))
	errs := make([]error, len(pairs))
	work := make(chan int)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for i := range work {
				out[i], errs[i] = GenerateText(ctx, dir, fmt.Sprintf("%s-%03d", prefix, i), pairs[i].Text, pairs[i].Voice)
			}
		})
	}
	for i := range pairs {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return slices.Clip(out), nil
}
