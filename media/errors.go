package media

import "errors"

// Sentinel errors. Callers match them with errors.Is; wrapped errors carry the detail.
var (
	ErrUnsupportedFormat = errors.New("media: unsupported format")
	ErrMalformedPacket   = errors.New("media: malformed RTP packet")
	ErrNoPorts           = errors.New("media: no free RTP port in range")
	ErrNotRunning        = errors.New("media: sender is not running")
	ErrBadDigit          = errors.New("media: not a DTMF digit")
)
