package quota

import (
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

func TestReservationIDsCarryTheOrigin(t *testing.T) {
	for _, o := range []Origin{OriginConversation, OriginSidekick, OriginAutomation} {
		id := newReservationID(o)
		if got, ok := originOfID(id); !ok || got != o {
			t.Errorf("originOfID(%q) = %v, %v; want %v", id, got, ok, o)
		}
	}
	for _, bad := range []string{"", "c_", "x_00000000000000000000000000000000", "c_0000", "c_zz000000000000000000000000000000", "c00000000000000000000000000000000"} {
		if _, ok := originOfID(bad); ok {
			t.Errorf("originOfID(%q) accepted a malformed id", bad)
		}
	}
}
