package quota

// Credit is one credit in µcredits, the unit of every amount.
const Credit int64 = 1_000_000

// Bounds applied at the API edge so that every amount stays below 2^53 (Redis
// Lua numbers are doubles) with room for sums.
const (
	// MaxAmount is the largest amount one request may carry, or one run may
	// cost: 10^9 credits.
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
