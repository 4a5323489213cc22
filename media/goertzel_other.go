//go:build !amd64

package media

func goertzel8(c *bank8, x []int16, s *[16]float32) { goertzel8Go(c, x, s) }
