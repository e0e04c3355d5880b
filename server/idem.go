package server

import (
	"crypto/sha256"
	"encoding/hex"

	"google.golang.org/protobuf/proto"

	"github.com/quota-svc/quota/quota"
)

// mutation is a request that carries an idempotency id.
type mutation interface {
	proto.Message
	GetRequestId() string
}

// idemOf identifies a mutation for idempotency: its request_id and the hex
// SHA-256 of its message type and deterministic wire encoding, so that a
// retry of the same request matches and any other request with the same id
// does not, even another RPC's whose fields happen to encode alike.
func idemOf(req mutation) (quota.Idem, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		return quota.Idem{}, err
	}
	h := sha256.New()
	h.Write([]byte(req.ProtoReflect().Descriptor().FullName()))
	h.Write([]byte{0})
	h.Write(b)
	sum := h.Sum(nil)
	return quota.Idem{RequestID: req.GetRequestId(), Fingerprint: hex.EncodeToString(sum)}, nil
}
