package quota

import (
	"errors"
	"strconv"
	"strings"
)

// FormatCredits spells an amount of µcredits as decimal credits, with
// thousands separated by commas and no trailing zeros: 8_000_000_000 is
// "8,000", 12_600_000 is "12.6", 1 is "0.000001", -2_500_000 is "-2.5".
// It is exact: no float is involved.
func FormatCredits(micro int64) string {
	neg := micro < 0
	u := uint64(micro)
	if neg {
		u = -u // two's complement: exact for math.MinInt64 too
	}
	whole, frac := u/uint64(Credit), u%uint64(Credit)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	digits := strconv.FormatUint(whole, 10)
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if frac != 0 {
		f := strconv.FormatUint(frac+uint64(Credit), 10)[1:] // six digits, zero-padded
		b.WriteByte('.')
		b.WriteString(strings.TrimRight(f, "0"))
	}
	return b.String()
}

// ErrCreditsSyntax is returned by ParseCredits for a string that is not
// an amount of credits.
var ErrCreditsSyntax = errors.New("not an amount of credits (digits, with at most 6 decimals)")

// ErrCreditsRange is returned by ParseCredits for an amount whose
// µcredits do not fit an int64.
var ErrCreditsRange = errors.New("amount of credits out of range")

// ParseCredits reads decimal credits, as FormatCredits writes them, into
// µcredits: "8000", "8,000", "12.6" and "0.000001" are accepted, a
// leading "-" too; more than six decimals (less than a µcredit) are not.
// Commas and underscores between digits are ignored.
func ParseCredits(s string) (int64, error) {
	t := s
	neg := strings.HasPrefix(t, "-")
	if neg {
		t = t[1:]
	}
	whole, frac, hasFrac := strings.Cut(t, ".")
	whole = strings.NewReplacer(",", "", "_", "").Replace(whole)
	if whole == "" && frac == "" || len(frac) > 6 || hasFrac && frac == "" || !allDigits(whole) || !allDigits(frac) {
		return 0, ErrCreditsSyntax
	}
	var w uint64
	if whole != "" {
		var err error
		if w, err = strconv.ParseUint(whole, 10, 64); err != nil {
			return 0, ErrCreditsRange
		}
	}
	f := uint64(0)
	if frac != "" {
		f, _ = strconv.ParseUint(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
	}
	if w > (1<<63-1-f)/uint64(Credit) {
		return 0, ErrCreditsRange
	}
	v := int64(w*uint64(Credit) + f)
	if neg {
		v = -v
	}
	return v, nil
}

// allDigits reports whether s holds only ASCII digits (true for "").
func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
