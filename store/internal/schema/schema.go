// Package schema is the one home of what the store's Go code and its Lua
// scripts must agree on: the layouts of the records kept in Redis and of
// the scripts' replies, and the constants of the domain the scripts apply
// (states, seats, codes, limits). Lua renders them as store/lua/gen_const.lua,
// which `go generate ./store` writes and a test checks is current, so the
// two sides cannot drift.
package schema

import "strings"

// Field is one field of a layout: its name and whether it is text (else an
// integer of µcredits, milliseconds or a count).
type Field struct {
	Name string
	Str  bool
}

// Layout is an ordered list of fields: a record is a MessagePack array of
// its values in this order, a reply the values in this order.
type Layout struct {
	// Name is the Lua name of the layout ("L_ACCT").
	Name   string
	Fields []Field
	index  map[string]int
}

// layout parses "a b c:s d" (":s" marks a text field).
func layout(name, spec string) *Layout {
	l := &Layout{Name: name, index: map[string]int{}}
	for _, f := range strings.Fields(spec) {
		n, isStr := strings.CutSuffix(f, ":s")
		l.index[n] = len(l.Fields)
		l.Fields = append(l.Fields, Field{Name: n, Str: isStr})
	}
	return l
}

// Index returns the position of a field (0-based); it panics on a name the
// layout does not have, which tests catch.
func (l *Layout) Index(name string) int {
	i, ok := l.index[name]
	if !ok {
		panic("schema: layout " + l.Name + " has no field " + name)
	}
	return i
}

// Len is the number of fields.
func (l *Layout) Len() int { return len(l.Fields) }

// Records kept in Redis, one string value per record: a MessagePack array
// (see the headers of the Lua modules for what each field means).
var (
	// Workspace: q:{ws:<id>}:ws.
	Workspace = layout("L_WS", `anchor pooled pcap ov_on ov_cap prog_cap wps wpe
		ov_used ov_held prog_used prog_held
		p_granted p_avail p_pend p_live p_held p_spent p_forf ev_pool g_seq g_next d_next`)
	// Account: q:{ws:<id>}:acct:<member>.
	Account = layout("L_ACCT", `seat next smon nmon nlife ps pe s_alloc s_spent s_held
		f_alloc f_spent f_held alloc spent forf held pcap p_used p_held ev_low`)
	// Grant: q:{ws:<id>}:grant:<gid>.
	Grant = layout("L_GRANT", `kind amount start exp prio seq ct state held spent forf`)
	// Reservation: q:{ws:<id>}:res:<hex>; cost, the priced usage of its
	// commit, comes last and may hold any bytes.
	Reservation = layout("L_RES", `owner:s origin state fp:s pv req
		h_seat h_old h_free h_pool h_ov h_grants:s h_ps dl ct st
		ch chh c_seat c_free c_pool c_ov c_grants:s rel sf
		parent:s root:s depth seq rec otok oact ktok kact stok sact
		rcap rtok rtot nres nheld nag open nk cost:s`)
)

// Counters are records of numbers only that a script adds to: the
// MessagePack values of their fields one after the other (no array
// header), which cmsgpack.unpack returns as several values and
// cmsgpack.pack(a, b, ...) writes, so that no table is built. The script
// (lua/usage.lua, usage_fold) names them in this order; a test checks
// that the order stays.
var (
	// Usage: one group's usage of one day, a field of the hash
	// q:{ws:<id>}:use:<day>: token and action credits, tokens, actions
	// that ran, commits, charged and shortfall.
	Usage = layout("L_USE", `tcost acost tokens actions commits charged sf`)
)

// Replies of the scripts. A reply is {status, ...}: status OK is followed
// by the reply's layouts, ERR by a code and its arguments, ROLL by the
// workspace's anchor. A reply carries the records it is about as stored
// (the MessagePack strings the call wrote or read, "" for none), which Go
// reads with the record layouts, and every number the call derived from
// them, so that Go never computes one.
var (
	// ReplyBalance is a member's (or spender's) account as of now.
	ReplyBalance = layout("B", `acct:s exists ps pe s_avail f_avail allocated avail held_now
		spent_now spendable pool pool_used ov pcap low pool_low`)
	// ReplyReservation is a reservation; ids are the public ones, and the
	// run's figures (run_*) are its root's. carved is what the call moved
	// into the hold from an ancestor's (a child's Reserve or Extend; 0
	// otherwise, and on a replay).
	ReplyReservation = layout("R", `res:s id:s held held_seat parent:s root:s run_cap run_tok
		run_res tok act total recorded carved`)
	// ReplyWorkspace is a workspace, its settings and its pool.
	ReplyWorkspace = layout("W", `ws:s low`)
	// ReplyGrant is a pool grant as of now.
	ReplyGrant = layout("G", `id:s grant:s avail`)
	// ReplyDenial is what a script saw when it refused a hold
	// (quota.DenialFacts).
	ReplyDenial = layout("F", `kind owner:s rank want least spendable own
		pool_avail pcap_set pool_left ov_left prog_set prog_left parent_free run_left`)
	// ReplyRunNode is one reservation of a run, for paging a run's costs:
	// its ancestors from its parent up ("<hex>.<state>.<rec>;...").
	ReplyRunNode = layout("N", `id:s parent:s anc:s recorded res:s`)
)

// Records and Replies list the layouts, for the generator.
var (
	Records = []*Layout{Workspace, Account, Grant, Reservation}
	// Counters lists the counter layouts, for the generator.
	Counters = []*Layout{Usage}
	Replies  = []*Layout{ReplyBalance, ReplyReservation, ReplyWorkspace, ReplyGrant, ReplyDenial, ReplyRunNode}
)

// Script reply statuses. StatusReplay is StatusOK for a request id met
// before: the call changed nothing and answers the first outcome again.
// StatusPacked and StatusPackedReplay are StatusOK and StatusReplay whose
// values come in one string or a few, in order, each MessagePack values
// one after the other (a reply of many values is cheaper for Redis to send
// that way, and parts spare the script a concatenation).
const (
	StatusErr          = 0
	StatusOK           = 1
	StatusRoll         = 2
	StatusReplay       = 3
	StatusPacked       = 4
	StatusPackedReplay = 5
)
