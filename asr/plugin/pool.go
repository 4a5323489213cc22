package plugin

import (
	"math/bits"
	"sync"

	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	pb "github.com/mrcpd/mrcpd/asr/pluginpb"
)

// bufferPool is the gRPC buffer pool of both ends (a mem.BufferPool): a tier per power of two
// from 256 B to 4 MB, and reused buffers are not zeroed. gRPC's default pool has a 1 MB tier
// above 32 KB and clears the whole of it on every Get, which for one ~250 KB batch of audio per
// flush was the largest single cost of the plugin process. Every buffer gRPC takes from a pool is
// written (marshalled into, or read from the connection) before it is read.
type bufferPool struct {
	tiers [maxPoolTier + 1]sync.Pool
}

const (
	minPoolTier = 8
	maxPoolTier = 22
)

func (p *bufferPool) Get(n int) *[]byte {
	t := max(bits.Len(uint(n-1)), minPoolTier)
	if n <= 0 {
		t = minPoolTier
	}
	if t > maxPoolTier {
		b := make([]byte, n)
		return &b
	}
	if b, ok := p.tiers[t].Get().(*[]byte); ok {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<t)
	return &b
}

func (p *bufferPool) Put(b *[]byte) {
	c := cap(*b)
	t := bits.Len(uint(c)) - 1
	if c != 1<<t || t < minPoolTier || t > maxPoolTier {
		return // not one of ours
	}
	p.tiers[t].Put(b)
}

// codec is gRPC's proto codec with its buffers from a bufferPool: the stock codec materialises
// every received message and marshals every large one with buffers of mem.DefaultBufferPool
// whatever pool the connection was given. Messages that are not protobuf v2 (none of ours)
// go to the stock codec.
type codec struct {
	pool  *bufferPool
	stock encoding.CodecV2
	held  sync.Map  // *pb.InputBatch -> its *batchHold, until release
	holds sync.Pool // *batchHold, released
}

func newCodec() *codec {
	return &codec{pool: &bufferPool{}, stock: encoding.GetCodecV2(grpcproto.Name)}
}

func (c *codec) Name() string { return grpcproto.Name }

func (c *codec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return c.stock.Marshal(v)
	}
	buf := c.pool.Get(proto.Size(m))
	out, err := proto.MarshalOptions{}.MarshalAppend((*buf)[:0], m)
	if err != nil {
		c.pool.Put(buf)
		return nil, err
	}
	*buf = out
	return mem.BufferSlice{mem.NewBuffer(buf, c.pool)}, nil
}

func (c *codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return c.stock.Unmarshal(data, v)
	}
	if b, ok := m.(*pb.InputBatch); ok {
		h, _ := c.holds.Get().(*batchHold)
		if h == nil {
			h = &batchHold{}
		}
		h.pieces = h.pieces[:0]
		for _, d := range data {
			h.pieces = append(h.pieces, d.ReadOnlyData())
		}
		audio, err := unmarshalInputBatch(h.pieces, b, h.audio)
		clear(h.pieces)
		h.audio = audio
		if err != nil || len(audio) == 0 {
			clear(h.audio)
			c.holds.Put(h)
			return err
		}
		data.Ref() // gRPC frees data when Unmarshal returns; the audio is decoded later
		h.bufs = data
		c.held.Store(b, h)
		return nil
	}
	buf := data.MaterializeToBuffer(c.pool)
	defer buf.Free()
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}
