// Package wiretest builds protobuf wire encodings that the Go marshaller
// will not produce, for tests of what a hostile client can send: strings
// that are not UTF-8, and messages nested deeper than any decoder
// accepts. It writes the wire format directly (protowire); each function
// appends one field to b and returns the result. RawCodec sends such
// bytes through a gRPC client.
package wiretest

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// String appends field num holding s as it is, UTF-8 or not.
func String(b []byte, num protowire.Number, s string) []byte {
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
}

// Message appends field num holding the encoded message m.
func Message(b []byte, num protowire.Number, m []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), m)
}

// Varint appends field num holding v (an int32, int64, enum or bool).
func Varint(b []byte, num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), v)
}

// DeepAgentRun is the encoding of a quota.v1.AgentRun depth levels deep:
// each node the only sub-agent (field 4) of the one above, the last with
// agent_id (field 1) "a". It is built in linear time whatever the depth
// (100,000 levels are about 400 KB).
func DeepAgentRun(depth int) []byte {
	leaf := String(nil, 1, "a")
	if depth <= 1 {
		return leaf
	}
	sizes := make([]int, depth) // sizes[i]: the encoded size of the node at depth i+1
	sizes[depth-1] = len(leaf)
	for i := depth - 2; i >= 0; i-- {
		sizes[i] = protowire.SizeTag(4) + protowire.SizeBytes(sizes[i+1])
	}
	b := make([]byte, 0, sizes[0])
	for i := 0; i < depth-1; i++ {
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizes[i+1]))
	}
	return append(b, leaf...)
}

// RawCodec is a gRPC codec that sends a *[]byte as it is and receives
// the reply's bytes into a *[]byte, decoding nothing: a client that
// sends what a proto codec would not. Use it for one call with
// grpc.ForceCodecV2(wiretest.RawCodec{}).
type RawCodec struct{}

var _ encoding.CodecV2 = RawCodec{}

// Marshal returns the bytes *v holds.
func (RawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

// Unmarshal stores the bytes in *v.
func (RawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

// Name is the proto codec's, so that the server decodes with its own.
func (RawCodec) Name() string { return "proto" }
