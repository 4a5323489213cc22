package plugin

import (
	"encoding/binary"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/mrcpd/mrcpd/asr/pluginpb"
)

// unmarshalInputBatch decodes an InputBatch from the pieces it arrived in (gRPC hands a message
// over as its HTTP/2 frames' payloads) like proto.Unmarshal of their concatenation, except for
// the audio: m.Audio stays nil and audio gets the field's bytes as slices of the pieces, so the
// plugin decodes the samples straight from the received buffers, with no ~250 KB copy per flush
// to join them first. The repeated fields of m keep their arrays, so that a message received into
// again and again stops allocating.
func unmarshalInputBatch(pieces [][]byte, m *pb.InputBatch, audio [][]byte) ([][]byte, error) {
	clear(m.Inputs)
	m.Inputs, m.Audio, m.AudioStreams, m.AudioLengths = m.Inputs[:0], nil, m.AudioStreams[:0], m.AudioLengths[:0]
	audio = audio[:0]
	r := pieceReader{pieces: pieces}
	for !r.done() {
		tag, err := r.varint()
		if err != nil {
			return audio, err
		}
		num, typ := protowire.DecodeTag(tag)
		if num < protowire.MinValidNumber || num > protowire.MaxValidNumber {
			return audio, protowire.ParseError(-1)
		}
		if typ != protowire.BytesType {
			if (num == 3 || num == 4) && typ == protowire.VarintType {
				v, err := r.varint()
				if err != nil {
					return audio, err
				}
				addVarint(m, num, v)
				continue
			}
			if err := r.skip(num, typ); err != nil {
				return audio, err
			}
			continue // a field of a newer protocol
		}
		n, err := r.length()
		if err != nil {
			return audio, err
		}
		switch num {
		case 1:
			e := &pb.StreamInput{}
			if err := proto.Unmarshal(r.bytes(n), e); err != nil {
				return audio, err
			}
			m.Inputs = append(m.Inputs, e)
		case 2:
			// Like proto.Unmarshal, the last occurrence of a singular field wins.
			audio = r.slices(audio[:0], n)
		case 3, 4:
			packed := r.bytes(n)
			for len(packed) > 0 {
				v, k := protowire.ConsumeVarint(packed)
				if k < 0 {
					return audio, protowire.ParseError(k)
				}
				addVarint(m, num, v)
				packed = packed[k:]
			}
		default:
			r.bytes(n)
		}
	}
	return audio, nil
}

func addVarint(m *pb.InputBatch, num protowire.Number, v uint64) {
	if num == 3 {
		m.AudioStreams = append(m.AudioStreams, v)
	} else {
		m.AudioLengths = append(m.AudioLengths, uint32(v))
	}
}

// pieceReader reads a message laid out over several byte slices.
type pieceReader struct {
	pieces [][]byte
}

func (r *pieceReader) done() bool {
	for len(r.pieces) > 0 && len(r.pieces[0]) == 0 {
		r.pieces = r.pieces[1:]
	}
	return len(r.pieces) == 0
}

func (r *pieceReader) remaining() int {
	n := 0
	for _, p := range r.pieces {
		n += len(p)
	}
	return n
}

func (r *pieceReader) varint() (uint64, error) {
	var v uint64
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if r.done() {
			return 0, protowire.ParseError(-1) // io.ErrUnexpectedEOF
		}
		c := r.pieces[0][0]
		r.pieces[0] = r.pieces[0][1:]
		if i == binary.MaxVarintLen64-1 && c > 1 {
			return 0, protowire.ParseError(-2) // overflow
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, protowire.ParseError(-2)
}

// length reads the length of a bytes field and checks that the field is all there.
func (r *pieceReader) length() (int, error) {
	v, err := r.varint()
	if err != nil {
		return 0, err
	}
	if v > uint64(r.remaining()) {
		return 0, protowire.ParseError(-1)
	}
	return int(v), nil
}

// bytes returns the next n bytes, which are there: a slice of a piece, or a copy when they
// straddle pieces.
func (r *pieceReader) bytes(n int) []byte {
	r.done()
	if n == 0 {
		return nil
	}
	if len(r.pieces[0]) >= n {
		b := r.pieces[0][:n:n]
		r.pieces[0] = r.pieces[0][n:]
		return b
	}
	b := make([]byte, 0, n)
	for len(b) < n {
		k := min(n-len(b), len(r.pieces[0]))
		b = append(b, r.pieces[0][:k]...)
		r.pieces[0] = r.pieces[0][k:]
		r.done()
	}
	return b
}

// slices appends the next n bytes, which are there, to dst as slices of the pieces.
func (r *pieceReader) slices(dst [][]byte, n int) [][]byte {
	for n > 0 {
		r.done()
		k := min(n, len(r.pieces[0]))
		dst = append(dst, r.pieces[0][:k:k])
		r.pieces[0] = r.pieces[0][k:]
		n -= k
	}
	return dst
}

// skip passes over a field of a type InputBatch does not use.
func (r *pieceReader) skip(num protowire.Number, typ protowire.Type) error {
	switch typ {
	case protowire.VarintType:
		_, err := r.varint()
		return err
	case protowire.Fixed32Type, protowire.Fixed64Type:
		n := 4
		if typ == protowire.Fixed64Type {
			n = 8
		}
		if r.remaining() < n {
			return protowire.ParseError(-1)
		}
		r.bytes(n)
		return nil
	case protowire.StartGroupType:
		// Rare enough to join the rest and let protowire find the group's end.
		rest := r.bytes(r.remaining())
		_, k := protowire.ConsumeGroup(num, rest)
		if k < 0 {
			return protowire.ParseError(k)
		}
		r.pieces = [][]byte{rest[k:]}
		return nil
	}
	return protowire.ParseError(-1)
}

// appendDecodedPieces decodes PCM laid out over several slices, a sample possibly split
// between two, and appends it to dst.
func appendDecodedPieces(dst []int16, pieces [][]byte) []int16 {
	var odd []byte // the first byte of a sample split between pieces
	for _, p := range pieces {
		if len(odd) == 1 && len(p) > 0 {
			dst = append(dst, int16(uint16(odd[0])|uint16(p[0])<<8))
			odd, p = nil, p[1:]
		}
		even := len(p) &^ 1
		dst = appendDecodedPCM(dst, p[:even])
		if even < len(p) {
			odd = p[even:]
		}
	}
	return dst
}

// batchHold is what the codec keeps for a received InputBatch until the plugin has decoded it:
// the buffers it arrived in, and its audio as slices of them.
type batchHold struct {
	bufs   mem.BufferSlice
	audio  [][]byte
	pieces [][]byte // scratch for the parse
}

// audio returns the audio of a batch the codec decoded, as slices of the received buffers.
func (c *codec) audio(m *pb.InputBatch) [][]byte {
	if v, ok := c.held.Load(m); ok {
		return v.(*batchHold).audio
	}
	return nil
}

// release frees the received buffers of an InputBatch, once its audio is decoded.
func (c *codec) release(m *pb.InputBatch) {
	if v, ok := c.held.LoadAndDelete(m); ok {
		h := v.(*batchHold)
		h.bufs.Free()
		clear(h.audio)
		h.audio, h.bufs = h.audio[:0], nil
		c.holds.Put(h)
	}
}
