package media

import (
	"encoding/binary"
	"fmt"
	"time"
)

// DTMFEvent is one detected key press, reported once when it ends.
type DTMFEvent struct {
	Digit    rune
	Duration time.Duration
	Source   string // "rfc4733" | "inband"
}

const dtmfDigits = "0123456789*#ABCD"

// maxDTMFEvent is the last RFC 4733 §3.2 DTMF event code (D); higher codes are other tones.
const maxDTMFEvent = 15

// DigitEvent maps a DTMF digit to its RFC 4733 §3.2 event code.
func DigitEvent(d rune) (uint8, error) {
	switch {
	case d >= 'a' && d <= 'd':
		d -= 'a' - 'A'
	}
	for i, c := range dtmfDigits {
		if c == d {
			return uint8(i), nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrBadDigit, d)
}

// TelephoneEvent is an RFC 4733 §2.3 event payload.
type TelephoneEvent struct {
	Event    uint8
	End      bool
	Volume   uint8 // -dBm0, 0..63
	Duration uint16
}

// ParseTelephoneEvent parses the first 4-byte block of an RFC 4733 payload (redundant blocks of RFC 2198
// are not negotiated, so only one block is expected; extra bytes are ignored).
func ParseTelephoneEvent(b []byte) (TelephoneEvent, error) {
	if len(b) < 4 {
		return TelephoneEvent{}, fmt.Errorf("%w: telephone-event payload of %d bytes", ErrMalformedPacket, len(b))
	}
	return TelephoneEvent{Event: b[0], End: b[1]&0x80 != 0, Volume: b[1] & 0x3f,
		Duration: binary.BigEndian.Uint16(b[2:])}, nil
}

// Append serialises e.
func (e TelephoneEvent) Append(dst []byte) []byte {
	f := e.Volume & 0x3f
	if e.End {
		f |= 0x80
	}
	return binary.BigEndian.AppendUint16(append(dst, e.Event, f), e.Duration)
}

// eventDetector turns a stream of RFC 4733 packets into one DTMFEvent per key press. Per §2.5.1 an event
// is identified by its RTP timestamp: retransmitted end packets (sent three times), updates of a long
// event and reordered copies carry the same timestamp and must not produce another digit. Long events past
// 0xFFFF duration continue under a new timestamp (§2.5.1.3) and are joined to the first segment.
type eventDetector struct {
	clockRate  int
	active     bool // an event is in progress and not yet reported
	ts         uint32
	event      uint8
	dur        uint32 // accumulated duration in timestamp units
	segStart   uint32 // timestamp of the current segment
	lastSeg    uint16
	lastAt     time.Time
	done       [8]uint32 // timestamps of recently reported events
	nDone      int
	pending    DTMFEvent
	hasPending bool
}

func (d *eventDetector) String() string { return "rfc4733" }

func (d *eventDetector) reported(ts uint32) bool {
	for i := 0; i < min(d.nDone, len(d.done)); i++ {
		if d.done[i] == ts {
			return true
		}
	}
	return false
}

// packet processes one telephone-event payload and returns the event that ended, if any.
func (d *eventDetector) packet(ts uint32, payload []byte, at time.Time) (DTMFEvent, bool, error) {
	e, err := ParseTelephoneEvent(payload)
	if err != nil {
		return DTMFEvent{}, false, err
	}
	if e.Event > maxDTMFEvent || d.reported(ts) {
		return DTMFEvent{}, false, nil
	}
	var out DTMFEvent
	var have bool
	if d.active && ts != d.segStart {
		if e.Event == d.event && ts-d.segStart == uint32(d.lastSeg) && d.lastSeg >= 0xff00 {
			// Continuation segment of a long event.
			d.segStart, d.lastSeg = ts, 0
		} else {
			out, have = d.finish() // its end packets were lost
		}
	}
	if !d.active {
		d.active, d.ts, d.segStart, d.event, d.dur, d.lastSeg = true, ts, ts, e.Event, 0, 0
	}
	if e.Duration > d.lastSeg {
		d.dur += uint32(e.Duration - d.lastSeg)
		d.lastSeg = e.Duration
	}
	d.lastAt = at
	if e.End {
		ev, _ := d.finish()
		d.markDone(ts)
		if have {
			// Two events ended at once (the first lost its end): report the older; the newer is
			// remembered as done only after it is returned by the caller's next call.
			d.pending, d.hasPending = ev, true
			return out, true, nil
		}
		return ev, true, nil
	}
	return out, have, nil
}

// finish reports the active event.
func (d *eventDetector) finish() (DTMFEvent, bool) {
	if !d.active {
		return DTMFEvent{}, false
	}
	d.active = false
	d.markDone(d.ts)
	d.markDone(d.segStart)
	return DTMFEvent{Digit: rune(dtmfDigits[d.event]), Source: "rfc4733",
		Duration: time.Duration(d.dur) * time.Second / time.Duration(d.clockRate)}, true
}

func (d *eventDetector) markDone(ts uint32) {
	if d.reported(ts) {
		return
	}
	d.done[d.nDone%len(d.done)] = ts
	d.nDone++
}

// tick ends an event whose end packets never came (the sender sends updates at least every 50 ms while
// a key is held, so a silence of eventTimeout means the end was lost).
func (d *eventDetector) tick(now time.Time) (DTMFEvent, bool) {
	if d.hasPending {
		d.hasPending = false
		return d.pending, true
	}
	if d.active && now.Sub(d.lastAt) > eventTimeout {
		return d.finish()
	}
	return DTMFEvent{}, false
}

const eventTimeout = 300 * time.Millisecond
