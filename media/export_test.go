package media

// JitterSlots is the number of slots a jitter buffer's ring holds (each keeps a payload buffer once used).
func JitterSlots(j *JitterBuffer) int { return len(j.slots) }

// InbandDetector is the in-band DTMF detector, for its benchmark.
type InbandDetector = inbandDetector

func NewInbandDetector(rate int) *InbandDetector { return newInbandDetector(rate) }

// Process feeds the detector one frame, as a receiver's tick does.
func (d *InbandDetector) Process(pcm []int16) (DTMFEvent, bool) { return d.process(pcm) }
