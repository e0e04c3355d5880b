package store

// Key layout. Every key of a workspace starts with "q:{ws:<id>}:" so that
// all of them hash to one Redis Cluster slot and one call can touch them
// together. Ids are restricted by the API to [A-Za-z0-9._:@-], so no id can
// close the hash tag. Under the prefix (records are described in the
// headers of lua/account.lua, lua/pool.lua, lua/hold.lua and lua/usage.lua):
//
//	ws               string: the workspace, its policy, period and pool sums
//	acct:<member>    string: a member's account
//	res:<hex>        string: a reservation (hex: the key of its public id)
//	deadlines        zset: every held reservation, by deadline
//	kids:<hex>       zset: a reservation's held children, by seq
//	run:<hex>        zset: every child of a run, on its root, by seq
//	settled          zset: settled roots, by settle time (retention)
//	grant:<gid>      string: a pool grant
//	grants_all       zset: every grant, by creation number
//	gtimes           zset: live grants, by their next start or expiry
//	gorder           zset: active grants with credits left, in draw order
//	idem:<request>   string: "<fingerprint>|<outcome>", kept 48 hours
//	ledger           stream: one entry per change of balance
//	events           stream: low-balance events
//	members          zset: every member with an account, score 0 (by id)
//	use:<day>        hash: a UTC day's usage buckets, one field per group
//	usek:<day>       zset: the fields of use:<day>, score 0
//	usedays          zset: the days that have buckets (retention)
//	usepend          list: the usage queue, what commits add to the
//	                 buckets until a batch folds it in (lua/usage.lua)
//	ledger_trimmed   string: set once the sweeper trimmed the ledger (the
//	                 audit replays the ledger only while it is whole)
//	wait             string: the barrier written before WAIT with
//	                 Options.WaitReplicas (lua.go, runAndWait); expires
//	                 after a minute
//
// Outside any workspace:
//
//	q:workspaces            set of workspace ids, for the sweeper, and
//	q:{idx<i>.<n>}:workspaces   its copies on other slots (index.go)
//	q:{pricing}:seq         the last price version number
//	q:{pricing}:cur         the current price version number
//	q:{pricing}:v:<n>       price version n: "<created ms>,<by>,<table JSON>"
//	q:{pricing}:versions    zset of price version numbers
//	q:{pricing}:idem:<req>  idempotency records of SetPricing
const (
	keyWorkspaces     = "q:workspaces"
	pricingPrefix     = "q:{pricing}:"
	keyPricingCur     = pricingPrefix + "cur"
	keyPricingVersion = pricingPrefix + "v:"
	keyPricingList    = pricingPrefix + "versions"
	workspacePrefix   = "q:{ws:"
)

// wsPrefix is the key prefix of a workspace.
func wsPrefix(workspaceID string) string { return workspacePrefix + workspaceID + "}:" }

func wsKey(ws string) string               { return wsPrefix(ws) + "ws" }
func resKey(ws, hex string) string         { return wsPrefix(ws) + "res:" + hex }
func acctKey(ws, member string) string     { return wsPrefix(ws) + "acct:" + member }
func grantKey(ws, gid string) string       { return wsPrefix(ws) + "grant:" + gid }
func idemKey(ws, req string) string        { return wsPrefix(ws) + "idem:" + req }
func ledgerKey(ws string) string           { return wsPrefix(ws) + "ledger" }
func eventsKey(ws string) string           { return wsPrefix(ws) + "events" }
func deadlinesKey(ws string) string        { return wsPrefix(ws) + "deadlines" }
func membersKey(ws string) string          { return wsPrefix(ws) + "members" }
func grantsAllKey(ws string) string        { return wsPrefix(ws) + "grants_all" }
func ledgerTrimmedKey(ws string) string    { return wsPrefix(ws) + "ledger_trimmed" }
func useKey(ws string, day int64) string   { return wsPrefix(ws) + "use:" + itoa(day) }
func useIndex(ws string, day int64) string { return wsPrefix(ws) + "usek:" + itoa(day) }
