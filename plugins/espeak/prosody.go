package main

import "github.com/mrcpd/mrcpd/plugins/internal/synthkit"

// espeak-ng wants words per minute (80-450, 175 normal), volume 0-200 (100 normal) and pitch
// 0-100 (50 normal); synthkit reads the SSML values.
var (
	rateLevels   = synthkit.Levels[int]{90, 130, 175, 230, 300}
	volumeLevels = synthkit.Levels[int]{30, 60, 100, 150, 200}
	pitchLevels  = synthkit.Levels[int]{20, 35, 50, 65, 80}
)

func rateWPM(v string) int {
	if n, ok := rateLevels.Rate(v); ok {
		return n
	}
	return clamp(int(synthkit.Relative(v)*175), 80, 450)
}

func volume(v string) int {
	if n, ok := volumeLevels.Volume(v); ok {
		return n
	}
	if n, ok := synthkit.AbsoluteVolume(v); ok {
		return clamp(int(n*2), 0, 200)
	}
	return clamp(int(synthkit.Relative(v)*100), 0, 200)
}

func pitch(v string) int {
	if n, ok := pitchLevels.Pitch(v); ok {
		return n
	}
	return clamp(int(synthkit.Relative(v)*50), 0, 100)
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }
