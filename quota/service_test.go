package quota

import (
	"context"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"default TTL between the bounds", Config{DefaultTTL: time.Hour, MinTTL: time.Minute, MaxTTL: 2 * time.Hour}, true},
		{"default TTL below the minimum", Config{DefaultTTL: time.Second, MinTTL: time.Minute}, false},
		{"default TTL above the maximum", Config{DefaultTTL: 48 * time.Hour}, false},
		{"minimum above the maximum", Config{MinTTL: 2 * time.Hour, MaxTTL: time.Hour, DefaultTTL: time.Hour}, false},
		{"negative minimum", Config{MinTTL: -time.Second}, false},
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestReservationIDsCarryOriginKeyAndVersion(t *testing.T) {
	for _, o := range Origins {
		for _, v := range []int64{0, 7, 1 << 40} {
			hx := RequestHex("ws", "req-1")
			id := ReservationID(o, hx, v)
			got, ok := ParseReservationID(id)
			if !ok || got != (ReservationRef{Origin: o, Hex: hx, Version: v}) {
				t.Errorf("ParseReservationID(%q) = %+v, %v", id, got, ok)
			}
		}
	}
	if RequestHex("ws", "a") == RequestHex("ws", "b") || RequestHex("ws", "a") == RequestHex("ws2", "a") {
		t.Error("RequestHex does not tell workspaces and request ids apart")
	}
	if RequestHex("ws", "a") != RequestHex("ws", "a") {
		t.Error("RequestHex is not deterministic")
	}
	for _, bad := range []string{"", "c_", "x_00000000000000000000000000000000_0", "c_0000_0",
		"c_zz000000000000000000000000000000_0", "c00000000000000000000000000000000", "c_00000000000000000000000000000000",
		"c_00000000000000000000000000000000_", "c_00000000000000000000000000000000_-1", "c_00000000000000000000000000000000_01",
		"c_0000000000000000000000000000000A_1", "c_00000000000000000000000000000000_1_2"} {
		if _, ok := ParseReservationID(bad); ok {
			t.Errorf("ParseReservationID(%q) accepted a malformed id", bad)
		}
	}
}

// epochStore answers SetWorkspace and AddGrant with what it was given.
type epochStore struct{ Store }

func (epochStore) SetWorkspace(_ context.Context, op WorkspaceOp) (Workspace, error) {
	return op.Workspace, nil
}

func (epochStore) AddGrant(_ context.Context, op GrantOp) (Grant, error) { return op.Grant, nil }

// TestTimesBeforeTheEpochAreInvalid: a subscription start or a grant's
// start before 1970 is refused (the embedded store could not keep it: a
// start in year 1 was INTERNAL there), the epoch itself is taken.
func TestTimesBeforeTheEpochAreInvalid(t *testing.T) {
	ctx := context.Background()
	svc := NewService(epochStore{}, Config{})
	before := MinTime.Add(-time.Millisecond)
	for _, start := range []time.Time{before, time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC), time.Date(1969, 12, 6, 0, 0, 0, 0, time.UTC)} {
		_, err := svc.SetWorkspace(ctx, Idem{}, Workspace{ID: "w", SubscriptionStart: start})
		wantInvalid(t, err, "subscription_start")
		_, err = svc.AddGrant(ctx, Idem{}, Grant{WorkspaceID: "w", Kind: GrantCommitment, Amount: Credit, Start: start, Expiry: time.Now().Add(time.Hour)})
		wantInvalid(t, err, "start_time")
	}
	if _, err := svc.SetWorkspace(ctx, Idem{}, Workspace{ID: "w", SubscriptionStart: MinTime}); err != nil {
		t.Errorf("SetWorkspace at the epoch: %v", err)
	}
	if _, err := svc.AddGrant(ctx, Idem{}, Grant{WorkspaceID: "w", Kind: GrantCommitment, Amount: Credit, Start: MinTime, Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Errorf("AddGrant starting at the epoch: %v", err)
	}
}
