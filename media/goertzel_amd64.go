package media

// goertzel8 runs the eight recurrences of c over x with SSE (goertzel_amd64.s), about three times
// faster than goertzel8Go, which Go compiles to scalar code that spills its sixteen states.
//
//go:noescape
func goertzel8(c *bank8, x []int16, s *[16]float32)
