package store

// Key layout. Every key of a workspace starts with "q:{ws:<id>}:" so that
// all of them hash to one Redis Cluster slot and one script can touch them
// together. Ids are restricted by the API to [A-Za-z0-9._:@-], so no id can
// close the hash tag. Under the prefix:
//
//	ws               hash: id, anchor (subscription start, ms)
//	acct:<member>    hash: the member's account (see lua/lib.lua)
//	holds:<member>   zset: the member's live holds by deadline (ms)
//	res:<id>         hash: a reservation (see lua/lib.lua)
//	deadlines        zset: every live hold of the workspace by deadline
//	idem:<request>   hash: fp, reply of a mutation; expires after 48 hours
//	ledger           stream: one entry per change of balance
//
// Outside any workspace:
//
//	q:workspaces            set of workspace ids, for the sweeper
//	q:{pricing}:table       the price table (JSON)
//	q:{pricing}:idem:<req>  idempotency records of SetPricing
const (
	keyWorkspaces   = "q:workspaces"
	keyPricing      = "q:{pricing}:table"
	keyPricingIdem  = "q:{pricing}:idem:"
	workspacePrefix = "q:{ws:"
)

// prefix is the key prefix of a workspace.
func prefix(workspaceID string) string { return workspacePrefix + workspaceID + "}:" }

func wsKey(ws string) string           { return prefix(ws) + "ws" }
func idemKey(ws, req string) string    { return prefix(ws) + "idem:" + req }
func resKey(ws, id string) string      { return prefix(ws) + "res:" + id }
func deadlinesKey(ws string) string    { return prefix(ws) + "deadlines" }
func acctKey(ws, member string) string { return prefix(ws) + "acct:" + member }
func ledgerKey(ws string) string       { return prefix(ws) + "ledger" }
