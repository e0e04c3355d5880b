package server

import (
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// Request validation the domain leaves to the API edge: ids, enums,
// durations and timestamps. Each check returns a *quota.InvalidError (or
// quota.ErrNoMember, quota.ErrMemberAndSpender) naming the field with its
// proto spelling, so that every error reaches the caller through toStatus.

// checkID checks a required id: 1..quota.MaxIDLen bytes of
// [A-Za-z0-9._:@-]. The character set keeps "{" and "}" out of the Redis
// hash tags the ids are embedded in.
func checkID(field, id string) error {
	switch {
	case id == "":
		return quota.Invalid(field, "is required")
	case len(id) > quota.MaxIDLen:
		return quota.Invalid(field, "must be at most %d bytes, got %d", quota.MaxIDLen, len(id))
	}
	for i := 0; i < len(id); i++ {
		if !idByte(id[i]) {
			// Name the character, not its first byte: 'é', not 'Ã'.
			r, _ := utf8.DecodeRuneInString(id[i:])
			return quota.Invalid(field, "must contain only letters, digits and . _ : @ -, got %q at byte %d", r, i)
		}
	}
	return nil
}

// idByte tells whether c may appear in an id.
func idByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '.', '_', ':', '@', '-':
		return true
	}
	return false
}

// checkMember checks a required member_id: empty is quota.ErrNoMember.
func checkMember(id string) error {
	if id == "" {
		return quota.ErrNoMember
	}
	return checkID("member_id", id)
}

// checkOptionalID checks an id that may be left empty: empty, or valid.
func checkOptionalID(field, id string) error {
	if id == "" {
		return nil
	}
	return checkID(field, id)
}

// checkMemberOrSpender checks Reserve's member_id and spender_id: exactly
// one is set (neither is quota.ErrNoMemberOrSpender, both
// quota.ErrMemberAndSpender) and it is a valid id.
func checkMemberOrSpender(memberID, spenderID string) error {
	switch {
	case memberID == "" && spenderID == "":
		return quota.ErrNoMemberOrSpender
	case memberID != "" && spenderID != "":
		return quota.ErrMemberAndSpender
	case spenderID != "":
		return checkID("spender_id", spenderID)
	default:
		return checkID("member_id", memberID)
	}
}

// checkReserveOwner checks Reserve's parent_reservation_id, member_id and
// spender_id. A root reservation names exactly one of member_id and
// spender_id (checkMemberOrSpender). A child (a parent_reservation_id, a
// valid id) may name neither, its owner being its parent's, but never
// both; the domain checks that one it names is the parent's.
func checkReserveOwner(parentID, memberID, spenderID string) error {
	if parentID == "" {
		return checkMemberOrSpender(memberID, spenderID)
	}
	if err := checkID("parent_reservation_id", parentID); err != nil {
		return err
	}
	if memberID == "" && spenderID == "" {
		return nil
	}
	return checkMemberOrSpender(memberID, spenderID)
}

// checkAmount checks an amount in µcredits: 0 to quota.MaxAmount, in the
// domain's words.
func checkAmount(field string, v int64) error {
	if v < 0 || v > quota.MaxAmount {
		return quota.Invalid(field, "must be between %d and %d µcredits", 0, quota.MaxAmount)
	}
	return nil
}

// firstError returns the first non-nil error of errs.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// originFromProto converts a required origin.
func originFromProto(o quotav1.Origin) (quota.Origin, error) {
	switch o {
	case quotav1.Origin_ORIGIN_CONVERSATION:
		return quota.OriginConversation, nil
	case quotav1.Origin_ORIGIN_SIDEKICK:
		return quota.OriginSidekick, nil
	case quotav1.Origin_ORIGIN_AUTOMATION:
		return quota.OriginAutomation, nil
	case quotav1.Origin_ORIGIN_UNSPECIFIED:
		return quota.OriginUnknown, quota.Invalid("origin", "origin is required")
	default:
		return quota.OriginUnknown, quota.Invalid("origin", "unknown origin %d: must be CONVERSATION, SIDEKICK or AUTOMATION", int32(o))
	}
}

// reserveOriginFromProto converts Reserve's origin: required for a root
// reservation; a child may leave it UNSPECIFIED (quota.OriginUnknown: the
// parent's, which the domain reads from the parent's id).
func reserveOriginFromProto(o quotav1.Origin, child bool) (quota.Origin, error) {
	if child && o == quotav1.Origin_ORIGIN_UNSPECIFIED {
		return quota.OriginUnknown, nil
	}
	return originFromProto(o)
}

// seatFromProto converts a required seat; UNASSIGNED is quota.SeatNone.
func seatFromProto(s quotav1.Seat) (quota.Seat, error) {
	switch s {
	case quotav1.Seat_SEAT_FREE:
		return quota.SeatFree, nil
	case quotav1.Seat_SEAT_PRO:
		return quota.SeatPro, nil
	case quotav1.Seat_SEAT_MAX:
		return quota.SeatMax, nil
	case quotav1.Seat_SEAT_UNASSIGNED:
		return quota.SeatNone, nil
	case quotav1.Seat_SEAT_UNSPECIFIED:
		return quota.SeatNone, quota.Invalid("seat", "seat is required: FREE, PRO, MAX or UNASSIGNED")
	default:
		return quota.SeatNone, quota.Invalid("seat", "unknown seat %d: must be FREE, PRO, MAX or UNASSIGNED", int32(s))
	}
}

// tierFromProto converts a tool tier (UNSPECIFIED is quota.TierUnknown);
// ok is false for a value the enum does not have.
func tierFromProto(t quotav1.ToolTier) (tier quota.Tier, ok bool) {
	switch t {
	case quotav1.ToolTier_TOOL_TIER_UNSPECIFIED:
		return quota.TierUnknown, true
	case quotav1.ToolTier_TOOL_TIER_FREE:
		return quota.TierFree, true
	case quotav1.ToolTier_TOOL_TIER_BASIC:
		return quota.TierBasic, true
	case quotav1.ToolTier_TOOL_TIER_ADVANCED:
		return quota.TierAdvanced, true
	default:
		return quota.TierUnknown, false
	}
}

// badTier is the error for a tier value the enum does not have.
func badTier(field string, t quotav1.ToolTier) error {
	return quota.Invalid(field, "unknown tier %d: must be UNSPECIFIED, FREE, BASIC or ADVANCED", int32(t))
}

// ttlFromProto converts an optional, non-negative duration; unset is 0.
// The domain checks it against its bounds.
func ttlFromProto(field string, d *durationpb.Duration) (time.Duration, error) {
	if d == nil {
		return 0, nil
	}
	if err := d.CheckValid(); err != nil {
		return 0, quota.Invalid(field, "is not a valid duration (seconds %d, nanos %d)", d.GetSeconds(), d.GetNanos())
	}
	if d.GetSeconds() < 0 || d.GetNanos() < 0 {
		return 0, quota.Invalid(field, "must not be negative")
	}
	return d.AsDuration(), nil
}

// timeFromProto converts a required timestamp.
func timeFromProto(field string, ts *timestamppb.Timestamp) (time.Time, error) {
	if ts == nil {
		return time.Time{}, quota.Invalid(field, "is required")
	}
	if err := ts.CheckValid(); err != nil {
		return time.Time{}, quota.Invalid(field, "is not a valid timestamp (seconds %d, nanos %d)", ts.GetSeconds(), ts.GetNanos())
	}
	return ts.AsTime(), nil
}

// optionalTimeFromProto converts an optional timestamp; unset is the zero
// time.
func optionalTimeFromProto(field string, ts *timestamppb.Timestamp) (time.Time, error) {
	if ts == nil {
		return time.Time{}, nil
	}
	return timeFromProto(field, ts)
}

// grantKindFromProto converts a required grant kind.
func grantKindFromProto(k quotav1.GrantKind) (quota.GrantKind, error) {
	switch k {
	case quotav1.GrantKind_GRANT_KIND_TOP_UP:
		return quota.GrantTopUp, nil
	case quotav1.GrantKind_GRANT_KIND_COMMITMENT:
		return quota.GrantCommitment, nil
	case quotav1.GrantKind_GRANT_KIND_UNSPECIFIED:
		return quota.GrantKindUnknown, quota.Invalid("kind", "kind is required: TOP_UP or COMMITMENT")
	default:
		return quota.GrantKindUnknown, quota.Invalid("kind", "unknown kind %d: must be TOP_UP or COMMITMENT", int32(k))
	}
}
