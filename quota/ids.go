package quota

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// Reservation ids are "<origin letter>_<32 hex digits>_<price version>",
// e.g. "c_3fa9c1d07e5b42a18f6d0c2e9b7a4415_3":
//
//   - the letter carries the origin (c conversation, s Sidekick, a
//     automation), so that Commit prices the usage without reading the
//     reservation first;
//   - the hex digits are the first 128 bits of SHA-256 over the workspace
//     and the Reserve's request_id, so that a retried Reserve names the
//     same reservation whatever happened in between, and a request_id
//     used for two different requests is found;
//   - the price version is the price table the run is priced with: its
//     root's, current when the root was reserved (the price lock), so that
//     Commit prices with it without reading the reservation first.
//
// The store keys a reservation by its hex digits alone and checks the
// rest against the record.

// originLetters spells each origin in a reservation id.
var originLetters = map[Origin]string{OriginConversation: "c", OriginSidekick: "s", OriginAutomation: "a"}

// Origins lists the origins a reservation may have.
var Origins = []Origin{OriginConversation, OriginSidekick, OriginAutomation}

// Letter is the origin's letter in reservation ids ("" for an unknown
// origin).
func (o Origin) Letter() string { return originLetters[o] }

// RequestHex is the hex key of the reservation a Reserve with this
// request_id makes in this workspace.
func RequestHex(workspaceID, requestID string) string {
	h := sha256.New()
	h.Write([]byte("quota.reservation\x00"))
	h.Write([]byte(workspaceID))
	h.Write([]byte{0})
	h.Write([]byte(requestID))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// ReservationID is the public id of the reservation with key hexKey, of
// origin o, priced with price table version.
func ReservationID(o Origin, hexKey string, version int64) string {
	return o.Letter() + "_" + hexKey + "_" + strconv.FormatInt(version, 10)
}

// ReservationRef is what a reservation id carries.
type ReservationRef struct {
	Origin  Origin
	Hex     string
	Version int64
}

// ParseReservationID reads a reservation id; ok is false for an id the
// service never issued.
func ParseReservationID(id string) (ref ReservationRef, ok bool) {
	letter, rest, found := strings.Cut(id, "_")
	if !found {
		return ref, false
	}
	hx, ver, found := strings.Cut(rest, "_")
	if !found || len(hx) != 32 || len(ver) == 0 || len(ver) > 18 {
		return ref, false
	}
	for i := 0; i < len(hx); i++ {
		if c := hx[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ref, false
		}
	}
	v, err := strconv.ParseInt(ver, 10, 64)
	if err != nil || v < 0 || strconv.FormatInt(v, 10) != ver {
		return ref, false
	}
	for _, o := range Origins {
		if o.Letter() == letter {
			return ReservationRef{Origin: o, Hex: hx, Version: v}, true
		}
	}
	return ref, false
}

// LowBalancePercent is the threshold of low-balance events and flags: a
// member's own spendable credits below this share of their allocation, or
// the pool below this share of what its drawable grants granted.
const LowBalancePercent = 20

// ID is the public id of the reservation ref names.
func (r ReservationRef) ID() string { return ReservationID(r.Origin, r.Hex, r.Version) }
