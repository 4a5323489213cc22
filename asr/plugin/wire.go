package plugin

import (
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/mrcpd/mrcpd/asr/pluginpb"
)

// unmarshalInputBatch decodes an InputBatch like proto.Unmarshal, except that Audio aliases b
// instead of being copied: the plugin converts the audio to samples at once, so the copy would
// only be a ~250 KB allocation per flush for the garbage collector. The repeated fields of m keep
// their arrays, so that a message received into again and again stops allocating.
func unmarshalInputBatch(b []byte, m *pb.InputBatch) error {
	clear(m.Inputs)
	m.Inputs, m.Audio, m.AudioStreams, m.AudioLengths = m.Inputs[:0], nil, m.AudioStreams[:0], m.AudioLengths[:0]
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		if num > protowire.MaxValidNumber {
			return protowire.ParseError(-1)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			e := &pb.StreamInput{}
			if err := proto.Unmarshal(v, e); err != nil {
				return err
			}
			m.Inputs = append(m.Inputs, e)
			b = b[n:]
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			m.Audio = v
			b = b[n:]
		case (num == 3 || num == 4) && (typ == protowire.BytesType || typ == protowire.VarintType):
			n, err := consumeVarints(b, typ, func(v uint64) {
				if num == 3 {
					m.AudioStreams = append(m.AudioStreams, v)
				} else {
					m.AudioLengths = append(m.AudioLengths, uint32(v))
				}
			})
			if err != nil {
				return err
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:] // a field of a newer protocol
		}
	}
	return nil
}

// consumeVarints reads one repeated varint field occurrence, packed or not.
func consumeVarints(b []byte, typ protowire.Type, add func(uint64)) (int, error) {
	if typ == protowire.VarintType {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		add(v)
		return n, nil
	}
	packed, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return 0, protowire.ParseError(n)
	}
	for len(packed) > 0 {
		v, k := protowire.ConsumeVarint(packed)
		if k < 0 {
			return 0, protowire.ParseError(k)
		}
		add(v)
		packed = packed[k:]
	}
	return n, nil
}

// release frees the received buffer an InputBatch's Audio aliases, once it is decoded.
func (c *codec) release(m *pb.InputBatch) {
	if v, ok := c.held.LoadAndDelete(m); ok {
		v.(mem.Buffer).Free()
	}
}
