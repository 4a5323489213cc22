package main

import (
	"strconv"
	"strings"
)

// MRCP's Prosody-* headers take SSML's values: a keyword, a relative number ("1.5", "+20%") or,
// for volume, 0-100. espeak-ng wants words per minute (80-450, 175 normal), volume 0-200 (100
// normal) and pitch 0-100 (50 normal).

func rateWPM(v string) int {
	const normal = 175
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "x-slow":
		return 90
	case "slow":
		return 130
	case "fast":
		return 230
	case "x-fast":
		return 300
	case "", "medium", "default":
		return normal
	}
	return clamp(int(relative(v)*normal), 80, 450)
}

func volume(v string) int {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "silent":
		return 0
	case "x-soft":
		return 30
	case "soft":
		return 60
	case "loud":
		return 150
	case "x-loud":
		return 200
	case "", "medium", "default":
		return 100
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && !strings.ContainsAny(v, "+-") {
		return clamp(int(n*2), 0, 200) // an absolute SSML volume, 0-100
	}
	return clamp(int(relative(v)*100), 0, 200)
}

func pitch(v string) int {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "x-low":
		return 20
	case "low":
		return 35
	case "high":
		return 65
	case "x-high":
		return 80
	case "", "medium", "default":
		return 50
	}
	return clamp(int(relative(v)*50), 0, 100)
}

// relative parses "1.5", "+20%" or "-10%" as a factor; anything else is 1.
func relative(v string) float64 {
	v = strings.TrimSpace(v)
	if p, ok := strings.CutSuffix(v, "%"); ok {
		if n, err := strconv.ParseFloat(p, 64); err == nil {
			return 1 + n/100
		}
		return 1
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n > 0 {
		return n
	}
	return 1
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }
