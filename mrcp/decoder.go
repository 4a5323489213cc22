package mrcp

import (
	"bytes"
	"io"
	"strconv"
)

// DefaultMaxMessageSize bounds a message when NewDecoder is given no limit: far above any
// grammar or SSML document a telephony client sends, small enough that a broken peer cannot make
// us buffer without end.
const DefaultMaxMessageSize = 1 << 20

// MaxStartLine bounds a start line ("MRCP/2.0 <length> <method> <request-id>" and the like are
// well under 100 bytes).
const MaxStartLine = 1024

// Decoder reads messages from a TCP control connection (RFC 6787 §4.2). It copes with partial
// reads and with several messages in one read, and reuses one buffer: it allocates per message,
// never per byte.
//
// Framing: the header section ends at the first empty line (CRLF or bare LF); the body is
// Content-Length bytes, or without Content-Length whatever message-length leaves. A
// message-length that disagrees is reported (404) after the message has been consumed, so a
// miscounting client is answered and the stream stays in step.
type Decoder struct {
	r   io.Reader
	max int

	buf        []byte
	start, end int // unread data is buf[start:end]
	scanned    int // buf[start:start+scanned] is known to hold no complete header section
	err        error
}

// initialDecoderBuffer holds a typical request (a RECOGNIZE with its headers is 200-400 bytes); the
// buffer grows for larger ones. Every control connection keeps its buffer while it waits, idle or
// not, so 4 KB here was 8 MB at 2,000 sessions.
const initialDecoderBuffer = 512

// NewDecoder returns a Decoder reading from r that refuses messages larger than maxSize bytes
// (DefaultMaxMessageSize when maxSize <= 0).
func NewDecoder(r io.Reader, maxSize int) *Decoder {
	if maxSize <= 0 {
		maxSize = DefaultMaxMessageSize
	}
	return &Decoder{r: r, max: maxSize, buf: make([]byte, min(initialDecoderBuffer, maxSize+2))}
}

// Decode returns the next message. Errors are *StatusError for bad input (Fatal() says whether
// the stream can still be read), io.EOF at a clean end of stream, io.ErrUnexpectedEOF inside a
// message, or the reader's error. After a fatal *StatusError or the end of the stream every call
// returns the same error again.
func (d *Decoder) Decode() (*Message, error) {
	if d.err != nil {
		return nil, d.err
	}
	for {
		d.skipBlankLines()
		if d.startLineTooLong() {
			// No start line is this long: bytes without a line end are refused early, not
			// buffered up to the message size limit. Checked before the header scan so that
			// the answer does not depend on how reads split the stream.
			return nil, d.fail(statusErr(Status408, "start-line", "no line end in the first "+
				strconv.Itoa(MaxStartLine)+" bytes", ErrMalformed))
		}
		if end := headEnd(d.buf[d.start:d.end], d.scanned); end >= 0 {
			return d.decodeFramed(end)
		}
		d.scanned = lastLineStart(d.buf[d.start:d.end])
		if d.end-d.start > d.max {
			return nil, d.fail(d.tooLarge("header section exceeds the limit"))
		}
		if err := d.fill(d.end - d.start + 1); err != nil {
			return nil, d.fail(err)
		}
	}
}

// Buffered is how many bytes of the next message have been read but not decoded yet: a caller
// bounding the time a message may take to arrive knows from it that one has begun.
func (d *Decoder) Buffered() int { return d.end - d.start }

// decodeFramed finishes a message whose header section is the first end bytes of the buffer.
func (d *Decoder) decodeFramed(end int) (*Message, error) {
	d.scanned = 0
	if end > d.max {
		// The same answer as when the header section arrives in pieces and outgrows the limit.
		return nil, d.fail(d.tooLarge("header section exceeds the limit"))
	}
	m, info, serr := parseHead(d.buf[d.start : d.start+end])
	if m == nil {
		return nil, d.fail(serr)
	}
	bodyLen := info.contentLength
	if bodyLen < 0 {
		bodyLen = max(info.messageLength-end, 0)
	}
	total := end + bodyLen
	if total > d.max || info.messageLength > d.max {
		serr := d.tooLarge("message-length " + strconv.Itoa(info.messageLength) + ", Content-Length " + strconv.Itoa(bodyLen))
		serr.Message = m
		return nil, d.fail(serr)
	}
	for d.end-d.start < total {
		if err := d.fill(total); err != nil {
			return nil, d.fail(err)
		}
	}
	if bodyLen > 0 {
		m.Body = append([]byte(nil), d.buf[d.start+end:d.start+total]...)
	}
	d.start += total
	if d.start == d.end {
		d.start, d.end = 0, 0
	}
	if serr == nil && info.messageLength != total {
		serr = statusErr(Status404, "message-length", "message-length "+strconv.Itoa(info.messageLength)+
			" but the message is "+strconv.Itoa(total)+" bytes", ErrMessageLength)
		serr.Message = m
	}
	if serr != nil {
		return nil, serr
	}
	return m, nil
}

// fill reads more data so that at least need unread bytes fit in the buffer, growing it (up to
// the limit plus a little slack) or moving unread data to the front as needed.
func (d *Decoder) fill(need int) error {
	if d.start > 0 && (d.end == len(d.buf) || d.start+need > len(d.buf)) {
		copy(d.buf, d.buf[d.start:d.end])
		d.end -= d.start
		d.start = 0
	}
	if need > len(d.buf) || d.end == len(d.buf) {
		size := max(need, 2*len(d.buf))
		size = min(size, d.max+2) // +2: room to see an over-long header's next bytes
		if size <= len(d.buf) {
			size = len(d.buf) + 1
		}
		nb := make([]byte, size)
		copy(nb, d.buf[d.start:d.end])
		d.end -= d.start
		d.start = 0
		d.buf = nb
	}
	n, err := d.r.Read(d.buf[d.end:])
	d.end += n
	if n > 0 {
		return nil
	}
	if err == io.EOF && d.end > d.start {
		return io.ErrUnexpectedEOF
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// startLineTooLong reports whether more than MaxStartLine bytes are buffered before the first
// line end.
func (d *Decoder) startLineTooLong() bool {
	unread := d.buf[d.start:d.end]
	if len(unread) <= MaxStartLine {
		return false
	}
	return bytes.IndexByte(unread[:MaxStartLine+1], '\n') < 0
}

// skipBlankLines drops empty lines between messages, which some peers send as keep-alives.
func (d *Decoder) skipBlankLines() {
	for d.start < d.end {
		switch {
		case d.buf[d.start] == '\n':
			d.start++
		case d.buf[d.start] == '\r' && d.start+1 < d.end && d.buf[d.start+1] == '\n':
			d.start += 2
		default:
			return
		}
		d.scanned = 0
	}
}

func (d *Decoder) tooLarge(what string) *StatusError {
	e := statusErr(Status504, "", what+": the maximum message size is "+strconv.Itoa(d.max)+" bytes", ErrMessageTooLarge)
	return e
}

// fail records an error after which nothing more can be decoded: lost framing or the end of
// the stream. Other reader errors (a read deadline, say) are returned without being kept, so a
// caller may retry; buffered bytes are not lost.
func (d *Decoder) fail(err error) error {
	switch e := err.(type) {
	case *StatusError:
		e.fatal = true
		d.err = err
	default:
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			d.err = err
		}
	}
	return err
}

// lastLineStart is the start of the last (incomplete) line of b, where a header scan resumes.
func lastLineStart(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			return i + 1
		}
	}
	return 0
}
