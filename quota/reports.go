package quota

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Reports: usage (usage.go), the members table, the ledger and the open
// reservations of a workspace, each paged (AIP-158). A page is ordered by
// a key that does not change (a group key, a member id, a ledger entry
// id, a deadline and a reservation id), and its token carries the last
// key returned, so that paging never skips or repeats an item while
// writes go on: an item present when the first page is read and still
// present when the last is read is returned exactly once.

// ReportStore is what the reports need of the store (package store
// implements it on Redis).
type ReportStore interface {
	// Usage returns a page of usage groups (see UsageOp).
	Usage(ctx context.Context, op UsageOp) (UsagePage, error)
	// ListMembers returns the balances as of now of up to limit members
	// whose id follows after ("" from the first), by member id, and the
	// id to continue after ("" when no member follows), or
	// ErrWorkspaceNotFound.
	ListMembers(ctx context.Context, workspaceID string, now time.Time, after string, limit int) ([]Balance, string, error)
	// ListLedger returns a page of a workspace's ledger (see LedgerOp),
	// or ErrWorkspaceNotFound.
	ListLedger(ctx context.Context, op LedgerOp) (LedgerPage, error)
	// ListHolds returns a page of a workspace's held reservations (see
	// HoldsOp), or ErrWorkspaceNotFound.
	ListHolds(ctx context.Context, op HoldsOp) (HoldsPage, error)
}

// ScanFactor bounds the index entries a filtered page reads: at most
// ScanFactor times its page size, so that a page costs the same whatever
// the filter; a page may then be short, or empty, and still have a next
// page.
const ScanFactor = 10

// encodeToken makes an opaque page token of kind from parts; the last part
// may hold any bytes.
func encodeToken(kind string, parts ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + "\x00" + strings.Join(parts, "\x00")))
}

// decodeToken reads a token of kind made of n parts.
func decodeToken(token, kind string, n int) ([]string, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err == nil {
		p := strings.SplitN(string(b), "\x00", n+1)
		if len(p) == n+1 && p[0] == kind {
			return p[1:], nil
		}
	}
	return nil, Invalid("page_token", "is not a token this service returned")
}

// ownerOf is the account owner a list is filtered by: a member, "~" and a
// spender, or "" for all; both set is ErrMemberAndSpender.
func ownerOf(memberID, spenderID string) (string, error) {
	switch {
	case memberID != "" && spenderID != "":
		return "", ErrMemberAndSpender
	case spenderID != "":
		return SpenderMark + spenderID, nil
	}
	return memberID, nil
}

// SpenderMark starts the account owner of a programmatic spender ("~" and
// its id) where owners are listed with members: in usage reports by
// member and in ledger entries. Member ids cannot contain it.
const SpenderMark = "~"

// ListMembers returns a page of a workspace's members, by member id, each
// with their balance now (periods rolled over and expired holds released
// first, as GetBalance does). Programmatic spenders have no account and
// are not members.
func (s *Service) ListMembers(ctx context.Context, workspaceID string, pageSize int, pageToken string) ([]Balance, string, error) {
	size, err := PageSize(pageSize)
	if err != nil {
		return nil, "", err
	}
	var after string
	if pageToken != "" {
		p, err := decodeToken(pageToken, "members", 1)
		if err != nil {
			return nil, "", err
		}
		after = p[0]
	}
	members, next, err := s.st.ListMembers(ctx, workspaceID, s.cfg.Now(), after, size)
	if err != nil || next == "" {
		return members, "", err
	}
	return members, encodeToken("members", next), nil
}

// LedgerOperations lists the operations of ledger entries (README,
// "Ledger"), which a ledger listing may filter on.
var LedgerOperations = []string{
	"reserve", "extend", "commit", "record", "refund", "expire", "void",
	"reset", "ws_reset", "upgrade", "grant_free", "seat", "seat_at_reset",
	"grant_add", "grant_expire", "grant_void", "policy", "member_pool_cap",
	"workspace", "adjust",
}

// LedgerEntry is one entry of a workspace's ledger.
type LedgerEntry struct {
	// ID is the entry's id in the ledger ("<ms>-<seq>"); Time its ms.
	ID   string
	Time time.Time
	// Op is the operation (LedgerOperations).
	Op string
	// MemberID or SpenderID is the account the entry is about (neither
	// for a workspace entry).
	MemberID, SpenderID string
	ReservationID       string
	RequestID           string
	// Amounts are the entry's numbers, as stored, in order.
	Amounts []LedgerAmount
	// Grants are the per-grant amounts of a pool draw or charge.
	Grants []SourceAmount
	// RelatedReservationID is the parent of a child (reserve) or the
	// ancestor a hold or cost went into (record, refund, expire).
	RelatedReservationID string
	GrantID              string
	// Actor and Reason are an operator's, for an operator's action.
	Actor, Reason string
}

// LedgerAmount is one named number of a ledger entry.
type LedgerAmount struct {
	Name   string
	Amount int64
}

// LedgerOp asks the store for a page of a workspace's ledger: entries from
// the cursor From (the store's, "" for the first entry at or after Start)
// and before End (zero: up to the newest), of Owner ("" any; a member, or
// "~" and a spender) and of one of Ops (none: any). The store reads at
// most Budget entries and returns at most Limit.
type LedgerOp struct {
	WorkspaceID string
	Owner       string
	Ops         []string
	Start, End  time.Time
	From        string
	Limit       int
	Budget      int
}

// LedgerPage is a page of ledger entries, oldest first. Next is the cursor
// of the entries that follow (always set, so that a listing may wait for
// new entries); Done tells that none follows before the op's End, when it
// has one.
type LedgerPage struct {
	Entries []LedgerEntry
	Next    string
	Done    bool
}

// LedgerQuery asks for a page of a workspace's ledger, oldest first: the
// entries of MemberID or SpenderID (neither: all), of one of Operations
// (none: all), in [Start, End) (zero: unbounded).
type LedgerQuery struct {
	WorkspaceID         string
	MemberID, SpenderID string
	Operations          []string
	Start, End          time.Time
	PageSize            int
	PageToken           string
}

// ListLedger returns a page of a workspace's ledger entries and the token
// of the next page. Without End the token is set after the last entry
// too: a later call with it returns the entries appended since.
func (s *Service) ListLedger(ctx context.Context, q LedgerQuery) ([]LedgerEntry, string, error) {
	size, err := PageSize(q.PageSize)
	if err != nil {
		return nil, "", err
	}
	owner, err := ownerOf(q.MemberID, q.SpenderID)
	if err != nil {
		return nil, "", err
	}
	for i, op := range q.Operations {
		if !slices.Contains(LedgerOperations, op) {
			return nil, "", Invalid("operations["+strconv.Itoa(i)+"]", "unknown operation %q (README, \"Ledger\")", op)
		}
	}
	if !q.Start.IsZero() && !q.End.IsZero() && !q.End.After(q.Start) {
		return nil, "", Invalid("end_time", "must be after start_time")
	}
	fp := ledgerFilter(q, owner)
	op := LedgerOp{WorkspaceID: q.WorkspaceID, Owner: owner, Ops: q.Operations, Start: q.Start, End: q.End,
		Limit: size, Budget: ScanFactor * size}
	if q.PageToken != "" {
		p, err := decodeToken(q.PageToken, "ledger", 2)
		if err != nil {
			return nil, "", err
		}
		if p[0] != fp {
			return nil, "", Invalid("page_token", "was made for other filters: send the same fields as the first page")
		}
		op.From = p[1]
	}
	page, err := s.st.ListLedger(ctx, op)
	if err != nil || (page.Done && !q.End.IsZero()) {
		return page.Entries, "", err
	}
	return page.Entries, encodeToken("ledger", fp, page.Next), nil
}

// ledgerFilter is a short digest of a ledger query's filters, which its
// page tokens carry so that a token is not used with other filters.
func ledgerFilter(q LedgerQuery, owner string) string {
	h := sha256.New()
	h.Write([]byte(q.WorkspaceID + "\x00" + owner + "\x00" + strings.Join(q.Operations, ",") + "\x00"))
	for _, t := range []time.Time{q.Start, q.End} {
		if !t.IsZero() {
			h.Write([]byte(strconv.FormatInt(t.UnixNano(), 10)))
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// HoldsOp asks the store for a page of a workspace's held reservations
// (those past their deadline but not released yet included), earliest
// deadline first, then by key: of Owner ("" any), after the one at
// (AfterDeadline, AfterHex) (AfterHex "": from the first). The store reads
// at most Budget entries of the index and returns at most Limit; nothing
// is changed.
type HoldsOp struct {
	WorkspaceID   string
	Owner         string
	Now           time.Time
	AfterDeadline int64
	AfterHex      string
	Limit         int
	Budget        int
}

// HoldsPage is a page of held reservations and, when More, the position
// of the last index entry read, to continue after.
type HoldsPage struct {
	Reservations []Reservation
	More         bool
	LastDeadline int64
	LastHex      string
}

// ListReservations returns a page of a workspace's reservations that hold
// credits, of a member or a spender (neither: all), earliest deadline
// first, and the token of the next page. A hold past its deadline whose
// credits no call has released yet shows as EXPIRED.
func (s *Service) ListReservations(ctx context.Context, workspaceID, memberID, spenderID string, pageSize int, pageToken string) ([]Reservation, string, error) {
	size, err := PageSize(pageSize)
	if err != nil {
		return nil, "", err
	}
	owner, err := ownerOf(memberID, spenderID)
	if err != nil {
		return nil, "", err
	}
	op := HoldsOp{WorkspaceID: workspaceID, Owner: owner, Now: s.cfg.Now(), Limit: size, Budget: ScanFactor * size}
	if pageToken != "" {
		p, err := decodeToken(pageToken, "holds", 3)
		if err != nil {
			return nil, "", err
		}
		dl, err := strconv.ParseInt(p[1], 10, 64)
		if err != nil || p[2] == "" {
			return nil, "", Invalid("page_token", "is not a token this service returned")
		}
		if p[0] != owner {
			return nil, "", Invalid("page_token", "was made for another member or spender: send the same fields as the first page")
		}
		op.AfterDeadline, op.AfterHex = dl, p[2]
	}
	page, err := s.st.ListHolds(ctx, op)
	if err != nil || !page.More {
		return page.Reservations, "", err
	}
	return page.Reservations, encodeToken("holds", owner, strconv.FormatInt(page.LastDeadline, 10), page.LastHex), nil
}
