package speechset

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// The environment narrows or widens an evaluation run, the same way for the engine-level run and
// the one through mrcpd (ACCURACY.md, "Held-out evaluation"): MRCPD_ACCURACY_FULL=1 every item,
// MRCPD_ACCURACY_PER=N N items of each set, MRCPD_ACCURACY_SETS=digits,oog only those sets,
// MRCPD_ACCURACY_CONDITIONS=ulaw,snr15 only those channels.

// SelectItems is items as the environment asks, perSet of each set (Stratified) by default.
func SelectItems(items []Item, perSet int) []Item {
	if os.Getenv("MRCPD_ACCURACY_FULL") == "" {
		if n, err := strconv.Atoi(os.Getenv("MRCPD_ACCURACY_PER")); err == nil && n > 0 {
			perSet = n
		}
		items = Stratified(items, perSet)
	}
	if sets := os.Getenv("MRCPD_ACCURACY_SETS"); sets != "" {
		items = slices.DeleteFunc(slices.Clone(items), func(it Item) bool { return !slices.Contains(strings.Split(sets, ","), it.Set) })
	}
	return items
}

// SelectConditions is the conditions of from that MRCPD_ACCURACY_CONDITIONS names, or def when
// it names none.
func SelectConditions(from, def []Condition) ([]Condition, error) {
	want := os.Getenv("MRCPD_ACCURACY_CONDITIONS")
	if want == "" {
		return def, nil
	}
	var out []Condition
	for _, c := range from {
		if slices.Contains(strings.Split(want, ","), c.Name) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("MRCPD_ACCURACY_CONDITIONS=%s names none of the conditions here", want)
	}
	return out, nil
}
