package quota

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// period is a [Start, End) pair, compared as a whole with cmp.Diff.
type period struct {
	Start, End time.Time
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v
}

// TestPeriodAtCSV reproduces every row of testdata/periods.csv.
func TestPeriodAtCSV(t *testing.T) {
	f, err := os.Open("../testdata/periods.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	rows, header := 0, false
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if !header {
			header = true
			if text != "anchor,now,period_start,period_end" {
				t.Fatalf("line %d: unexpected header %q", line, text)
			}
			continue
		}
		cols := strings.Split(text, ",")
		if len(cols) != 4 {
			t.Fatalf("line %d: want 4 columns, got %d: %q", line, len(cols), text)
		}
		anchor, now := mustTime(t, cols[0]), mustTime(t, cols[1])
		want := period{mustTime(t, cols[2]), mustTime(t, cols[3])}
		start, end := PeriodAt(anchor, now)
		if diff := cmp.Diff(want, period{start, end}); diff != "" {
			t.Errorf("line %d: PeriodAt(%s, %s) mismatch (-want +got):\n%s", line, cols[0], cols[1], diff)
		}
		rows++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("checked %d rows", rows)
	if rows < 100 {
		t.Fatalf("read only %d rows from periods.csv", rows)
	}
}

func TestPeriodAt(t *testing.T) {
	tests := []struct {
		name        string
		anchor, now string
		want        [2]string
	}{
		{"anchor on the 31st clamps to Feb 28 in a common year",
			"2025-01-31T00:00:00Z", "2025-02-28T00:00:00Z", [2]string{"2025-02-28T00:00:00Z", "2025-03-31T00:00:00Z"}},
		{"anchor on the 31st clamps to Feb 29 in a leap year",
			"2024-01-31T00:00:00Z", "2024-03-01T00:00:00Z", [2]string{"2024-02-29T00:00:00Z", "2024-03-31T00:00:00Z"}},
		{"anchor on the 31st clamps to Apr 30 then returns to the 31st",
			"2025-03-31T00:00:00Z", "2025-05-15T00:00:00Z", [2]string{"2025-04-30T00:00:00Z", "2025-05-31T00:00:00Z"}},
		{"anchor on the 31st in December rolls over the year",
			"2024-12-31T00:00:00Z", "2025-01-01T00:00:00Z", [2]string{"2024-12-31T00:00:00Z", "2025-01-31T00:00:00Z"}},
		{"anchor on the 30th clamps in February only",
			"2025-01-30T00:00:00Z", "2025-03-29T00:00:00Z", [2]string{"2025-02-28T00:00:00Z", "2025-03-30T00:00:00Z"}},
		{"anchor on the 30th keeps the 30th in 31-day months",
			"2025-04-30T00:00:00Z", "2025-05-31T00:00:00Z", [2]string{"2025-05-30T00:00:00Z", "2025-06-30T00:00:00Z"}},
		{"anchor on the 29th clamps to Feb 28 in a common year",
			"2025-01-29T00:00:00Z", "2025-02-28T12:00:00Z", [2]string{"2025-02-28T00:00:00Z", "2025-03-29T00:00:00Z"}},
		{"anchor on the 29th keeps Feb 29 in a leap year",
			"2024-01-29T00:00:00Z", "2024-02-29T00:00:00Z", [2]string{"2024-02-29T00:00:00Z", "2024-03-29T00:00:00Z"}},
		{"anchor on Feb 29 resets on the 29th of later months",
			"2024-02-29T00:00:00Z", "2024-03-29T00:00:00Z", [2]string{"2024-03-29T00:00:00Z", "2024-04-29T00:00:00Z"}},
		{"anchor on Feb 29 clamps to Feb 28 the next year",
			"2024-02-29T00:00:00Z", "2025-02-28T00:00:00Z", [2]string{"2025-02-28T00:00:00Z", "2025-03-29T00:00:00Z"}},
		{"2100 is not a leap year",
			"2099-01-31T00:00:00Z", "2100-02-28T00:00:00Z", [2]string{"2100-02-28T00:00:00Z", "2100-03-31T00:00:00Z"}},
		{"2000 is a leap year",
			"1999-12-31T00:00:00Z", "2000-02-28T00:00:00Z", [2]string{"2000-01-31T00:00:00Z", "2000-02-29T00:00:00Z"}},
		{"anchor time of day is kept",
			"2025-01-15T13:45:10.5Z", "2025-03-20T00:00:00Z", [2]string{"2025-03-15T13:45:10.5Z", "2025-04-15T13:45:10.5Z"}},
		{"anchor time of day: just before the reset is the previous period",
			"2025-01-15T13:45:10Z", "2025-03-15T13:45:09.999999999Z", [2]string{"2025-02-15T13:45:10Z", "2025-03-15T13:45:10Z"}},
		{"now at the anchor is the first period",
			"2025-01-15T00:00:00Z", "2025-01-15T00:00:00Z", [2]string{"2025-01-15T00:00:00Z", "2025-02-15T00:00:00Z"}},
		{"now exactly at a reset starts the new period (start inclusive)",
			"2025-01-15T08:00:00Z", "2025-02-15T08:00:00Z", [2]string{"2025-02-15T08:00:00Z", "2025-03-15T08:00:00Z"}},
		{"one nanosecond before a reset is the old period (end exclusive)",
			"2025-01-15T08:00:00Z", "2025-02-15T07:59:59.999999999Z", [2]string{"2025-01-15T08:00:00Z", "2025-02-15T08:00:00Z"}},
		{"now before the anchor gives an earlier period",
			"2025-03-31T00:00:00Z", "2025-03-01T00:00:00Z", [2]string{"2025-02-28T00:00:00Z", "2025-03-31T00:00:00Z"}},
		{"now years before the anchor",
			"2025-03-31T12:00:00Z", "2020-02-29T11:59:59Z", [2]string{"2020-01-31T12:00:00Z", "2020-02-29T12:00:00Z"}},
		{"far future, 50 years later",
			"2025-01-31T06:00:00Z", "2075-02-28T06:00:00Z", [2]string{"2075-02-28T06:00:00Z", "2075-03-31T06:00:00Z"}},
		{"far future, 50 years later, just before the reset",
			"2025-01-31T06:00:00Z", "2075-02-28T05:59:59Z", [2]string{"2075-01-31T06:00:00Z", "2075-02-28T06:00:00Z"}},
		{"anchor is read in UTC: a local Jan 31 evening is Feb 1 in UTC",
			"2025-01-31T23:30:00-05:00", "2025-03-01T00:00:00+02:00", [2]string{"2025-02-01T04:30:00Z", "2025-03-01T04:30:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, end := PeriodAt(mustTime(t, tt.anchor), mustTime(t, tt.now))
			want := period{mustTime(t, tt.want[0]), mustTime(t, tt.want[1])}
			if diff := cmp.Diff(want, period{start, end}); diff != "" {
				t.Errorf("PeriodAt(%s, %s) mismatch (-want +got):\n%s", tt.anchor, tt.now, diff)
			}
			if start.Location() != time.UTC || end.Location() != time.UTC {
				t.Errorf("PeriodAt returned non-UTC times %v, %v", start, end)
			}
		})
	}
}

func TestPeriodStart(t *testing.T) {
	anchor := mustTime(t, "2024-01-31T09:15:00Z")
	tests := []struct {
		name string
		k    int
		want string
	}{
		{"k 0 is the anchor", 0, "2024-01-31T09:15:00Z"},
		{"k 1 clamps to leap Feb 29", 1, "2024-02-29T09:15:00Z"},
		{"k 2 returns to the 31st", 2, "2024-03-31T09:15:00Z"},
		{"k 3 clamps to Apr 30", 3, "2024-04-30T09:15:00Z"},
		{"k 11 is December", 11, "2024-12-31T09:15:00Z"},
		{"k 13 clamps to common Feb 28", 13, "2025-02-28T09:15:00Z"},
		{"k -1 is the previous December", -1, "2023-12-31T09:15:00Z"},
		{"k -11 clamps to Feb 28 of the previous year", -11, "2023-02-28T09:15:00Z"},
		{"k -13 is two Decembers back", -13, "2022-12-31T09:15:00Z"},
		{"k 600 is 50 years later", 600, "2074-01-31T09:15:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(mustTime(t, tt.want), PeriodStart(anchor, tt.k)); diff != "" {
				t.Errorf("PeriodStart(%v, %d) mismatch (-want +got):\n%s", anchor, tt.k, diff)
			}
		})
	}
}

// TestPeriodAtContainsNow sweeps anchors on every day-of-month ending and
// instants over several years: the period always contains now, is one
// anniversary long, and the next period starts where this one ends.
func TestPeriodAtContainsNow(t *testing.T) {
	anchors := []string{
		"2023-01-28T00:00:00Z", "2023-01-29T23:59:59Z", "2024-01-30T12:00:00Z",
		"2024-01-31T00:00:00Z", "2024-02-29T13:45:10Z", "2023-08-31T06:30:00Z",
	}
	for _, a := range anchors {
		anchor := mustTime(t, a)
		for now := anchor.AddDate(-2, 0, 0); now.Before(anchor.AddDate(3, 0, 0)); now = now.Add(7*time.Hour + 13*time.Minute) {
			start, end := PeriodAt(anchor, now)
			if now.Before(start) || !now.Before(end) {
				t.Fatalf("PeriodAt(%v, %v) = [%v, %v) does not contain now", anchor, now, start, end)
			}
			if next, _ := PeriodAt(anchor, end); !next.Equal(end) {
				t.Fatalf("PeriodAt(%v, %v): next period starts at %v, want %v", anchor, end, next, end)
			}
			if m := (end.Year()-start.Year())*12 + int(end.Month()) - int(start.Month()); m != 1 {
				t.Fatalf("PeriodAt(%v, %v) = [%v, %v) spans %d months", anchor, now, start, end, m)
			}
		}
	}
}
