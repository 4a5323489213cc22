package media

// JitterSlots is the number of slots a jitter buffer's ring holds (each keeps a payload buffer once used).
func JitterSlots(j *JitterBuffer) int { return len(j.slots) }
