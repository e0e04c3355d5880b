package quota

import "time"

// Monthly billing periods.
//
// A subscription started at an anchor resets on its monthly anniversaries, in
// UTC. Anniversary k falls in the anchor's month + k, on the anchor's day of
// the month clamped to that month's last day (an anchor on the 31st resets on
// Feb 28 or 29, Apr 30, then the 31st again where the month has one), at the
// anchor's time of day. The clamp never carries over: each anniversary is
// computed from the anchor, not from the previous one. A month is never "30
// days".

// PeriodStart returns the k-th anniversary of anchor, in UTC: PeriodStart(a,
// 0) is a itself (in UTC), k > 0 are later resets and k < 0 earlier ones.
// Consecutive anniversaries fall in consecutive calendar months, so they are
// strictly increasing in k.
func PeriodStart(anchor time.Time, k int) time.Time {
	a := anchor.UTC()
	// Day 1 never overflows, so time.Date only normalizes the month into
	// the year here; the clamped day is applied afterwards.
	first := time.Date(a.Year(), a.Month()+time.Month(k), 1, 0, 0, 0, 0, time.UTC)
	y, m := first.Year(), first.Month()
	d := min(a.Day(), daysInMonth(y, m))
	return time.Date(y, m, d, a.Hour(), a.Minute(), a.Second(), a.Nanosecond(), time.UTC)
}

// PeriodAt returns the billing period [start, end) that contains now for a
// subscription anchored at anchor, in UTC: start <= now < end, both
// anniversaries of anchor (see PeriodStart), end being the next reset. It
// works for any now, including one before the anchor (the period is then an
// earlier, hypothetical one) and one decades later, in constant time.
func PeriodAt(anchor, now time.Time) (start, end time.Time) {
	a, n := anchor.UTC(), now.UTC()
	// Anniversary k lies in the calendar month of now, so the period that
	// contains now is either k (it started earlier this month) or k-1 (the
	// reset of this month is still to come).
	k := (n.Year()-a.Year())*12 + int(n.Month()) - int(a.Month())
	start = PeriodStart(a, k)
	if start.After(n) {
		k--
		start = PeriodStart(a, k)
	}
	return start, PeriodStart(a, k+1)
}

// daysInMonth returns the number of days of month m of year y (leap years
// included: day 0 of the next month is the last day of this one).
func daysInMonth(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
