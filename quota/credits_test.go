package quota

import (
	"errors"
	"math"
	"testing"
)

func TestFormatCredits(t *testing.T) {
	for _, tc := range []struct {
		micro int64
		want  string
	}{
		{0, "0"},
		{1, "0.000001"},
		{500_000, "0.5"},
		{Credit, "1"},
		{12_600_000, "12.6"},
		{999 * Credit, "999"},
		{1_000 * Credit, "1,000"},
		{8_000 * Credit, "8,000"},
		{1_234_567*Credit + 890_000, "1,234,567.89"},
		{-2_500_000, "-2.5"},
		{MaxAmount, "1,000,000,000"},
		{math.MaxInt64, "9,223,372,036,854.775807"},
		{math.MinInt64, "-9,223,372,036,854.775808"},
	} {
		if got := FormatCredits(tc.micro); got != tc.want {
			t.Errorf("FormatCredits(%d) = %q, want %q", tc.micro, got, tc.want)
		}
	}
}

func TestParseCredits(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  error
	}{
		{"0", 0, nil},
		{"8000", 8_000 * Credit, nil},
		{"8,000", 8_000 * Credit, nil},
		{"100_000", 100_000 * Credit, nil},
		{"12.6", 12_600_000, nil},
		{".5", 500_000, nil},
		{"0.000001", 1, nil},
		{"-2.5", -2_500_000, nil},
		{"9223372036854.775807", math.MaxInt64, nil},
		{"9223372036854.775808", 0, ErrCreditsRange},
		{"99999999999999999999", 0, ErrCreditsRange},
		{"0.0000001", 0, ErrCreditsSyntax},
		{"", 0, ErrCreditsSyntax},
		{"-", 0, ErrCreditsSyntax},
		{".", 0, ErrCreditsSyntax},
		{"5.", 0, ErrCreditsSyntax},
		{"1e6", 0, ErrCreditsSyntax},
		{"+5", 0, ErrCreditsSyntax},
		{"5 credits", 0, ErrCreditsSyntax},
		{"1.2.3", 0, ErrCreditsSyntax},
	} {
		got, err := ParseCredits(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("ParseCredits(%q) = %d, %v; want %d, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestCreditsRoundTrip checks that ParseCredits reads back what
// FormatCredits writes.
func TestCreditsRoundTrip(t *testing.T) {
	for _, v := range []int64{0, 1, 7, 999_999, Credit, 12_600_000, 1_000_000_001, MaxAmount, -MaxAmount, math.MaxInt64} {
		got, err := ParseCredits(FormatCredits(v))
		if err != nil || got != v {
			t.Errorf("ParseCredits(FormatCredits(%d)) = %d, %v", v, got, err)
		}
	}
}
