package quota

import "time"

// Credit is one credit in µcredits, the unit of every amount.
const Credit int64 = 1_000_000

// Bounds applied at the API edge so that every amount stays below 2^53 (Redis
// Lua numbers are doubles) with room for sums.
const (
	// MaxAmount is the largest amount one request may carry, or one
	// commit may cost: 10^9 credits (what a run's children record is
	// bounded by MaxRunCost, and a run costs at most twice this).
	MaxAmount int64 = 1_000_000_000 * Credit
	// MaxTokens is the largest token count of one kind for one model.
	MaxTokens int64 = 1_000_000_000_000
	// MaxRate is the largest rate, in µcredits per million tokens.
	MaxRate int64 = 1_000_000_000_000
	// MaxIDLen is the longest id (workspace, member, request, agent, model,
	// tool).
	MaxIDLen = 128
	// MaxDepth is the deepest agent chain: the main agent is depth 1.
	MaxDepth = 16
	// MaxNodes is the most agent runs in one chain.
	MaxNodes = 1000
	// MaxItems is the most model lines plus actions in one chain.
	MaxItems = 10000
	// MaxPriceEntries is the most models, or tools, in a price table.
	MaxPriceEntries = 1000
)

// MinTime is the earliest time a request may carry (a subscription start,
// a grant's start): the Unix epoch. Records keep times as Unix
// milliseconds, and the embedded server's MessagePack codec writes no
// negative number below -2^31 (about 25 days before the epoch).
var MinTime = time.Unix(0, 0).UTC()

// checkTime checks that a time a request carries is not before MinTime.
func checkTime(field string, t time.Time) error {
	if t.Before(MinTime) {
		return Invalid(field, "must be at or after %s", MinTime.Format(time.RFC3339))
	}
	return nil
}
