package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	encproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Malformed requests. grpc-go answers a request it cannot decode (bad
// wire format, a string field that is not UTF-8) with INTERNAL before any
// interceptor runs. A client sent it, so it is INVALID_ARGUMENT: the
// server's codec decodes as the proto codec does, but on failure it
// leaves the request empty with a mark (an unknown field of the highest
// field number, holding markKey and the decoding error), and the first
// interceptor after authentication answers a marked request
// INVALID_ARGUMENT / MALFORMED_MESSAGE. A client cannot forge a mark: it
// does not know markKey, so the same field in its request is an unknown
// field like any other. Streams (health, reflection) get the empty
// request.

// reasonMalformedMessage is the ErrorInfo reason of a request that could
// not be decoded.
const reasonMalformedMessage = "MALFORMED_MESSAGE"

// malformedField is the field number of the mark: the largest there is.
const malformedField protowire.Number = protowire.MaxValidNumber

// markKey starts every mark: random, drawn when the process starts.
var markKey = func() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b) + ":"
}()

// lenientCodec is the proto codec, marking what it cannot decode.
type lenientCodec struct{ encoding.CodecV2 }

// newLenientCodec wraps the registered proto codec.
func newLenientCodec() lenientCodec {
	return lenientCodec{encoding.GetCodecV2(encproto.Name)}
}

// Unmarshal decodes data into v; if it cannot, it resets v and marks it.
func (c lenientCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	m, ok := v.(proto.Message)
	if !ok {
		return err
	}
	proto.Reset(m)
	mark := protowire.AppendTag(nil, malformedField, protowire.BytesType)
	mark = protowire.AppendString(mark, markKey+err.Error())
	m.ProtoReflect().SetUnknown(mark)
	return nil
}

// malformed returns the decoding error marked on req, if any.
func malformed(req any) (string, bool) {
	m, ok := req.(proto.Message)
	if !ok {
		return "", false
	}
	b := m.ProtoReflect().GetUnknown()
	if len(b) == 0 {
		return "", false
	}
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || num != malformedField || typ != protowire.BytesType {
		return "", false
	}
	msg, n2 := protowire.ConsumeString(b[n:])
	if n2 < 0 || n+n2 != len(b) {
		return "", false
	}
	return strings.CutPrefix(msg, markKey)
}

// rejectMalformed answers a marked request INVALID_ARGUMENT.
func rejectMalformed(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if why, ok := malformed(req); ok {
		return nil, newStatus(codes.InvalidArgument, "the request message could not be decoded: "+why, reasonMalformedMessage, nil)
	}
	return handler(ctx, req)
}
