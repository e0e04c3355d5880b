// Package model is a reference model of quota's credit rules: one
// workspace, its members and programmatic spenders, its pool of grants and
// its reservations, kept in plain Go maps and slices and changed by the
// same requests as the service's RPCs. It is written for clarity, not
// speed, from the rules of DESIGN.md (sections 1 and 2) and the README
// (Credit rules, Pool, Runs, Errors), and it shares no code with package
// store or package server: the model-based test of cmd/quotad runs random
// sequences of requests through the real service and through the model,
// and after every step compares what both say.
//
// # What the model keeps
//
//   - Members: seat in force and a seat pending for the next reset, the
//     current period, seat credits (allocated and spent this period),
//     free lifetime credits, lifetime totals (allocated, spent,
//     forfeited), a pool cap override and the pool spent this period.
//   - Grants of the pool: amount, start, expiry, priority, creation order,
//     state, spent and forfeited.
//   - Reservations: owner, origin, state, deadline, the hold (parts per
//     source, see Parts), the run tree (parent, children, root) and, once
//     committed, the priced usage and what was charged.
//   - The workspace: anchor, policy, its period, overage and programmatic
//     usage this period.
//   - Requests by request id, for idempotency.
//
// Everything "held" is derived: a member's held seat credits are the sum of
// the seat parts of the member's HELD reservations, a grant's held credits
// the sum of the parts taken from it, and so on. Available is what is
// allocated less held, spent and forfeited, so the invariants
// (allocated = available + held + spent + forfeited, for members, grants
// and the pool) hold by construction; Check verifies them anyway.
//
// # Time
//
// The model is eager: Advance moves the clock and applies at once every
// transition due by then, in this order: the workspace's and every
// member's billing period (rolled at most once per call, to the period
// containing now: unused seat credits forfeited, a pending seat applied,
// the new period's allocation granted once, the pool cap's usage zeroed),
// grant starts and expiries (what an ending grant has left is forfeited),
// then holds past their deadline, oldest deadline first. The service is
// lazy (a call releases what is due before it acts, the sweeper the rest);
// the rules make the two agree: an expired hold never shows in a balance,
// and credits released after the end of their period or of their grant
// are forfeited just as if they had been released on time.
//
// A period a member was never seen in is not allocated: when several
// resets pass between two calls, the member's account rolls once, to the
// period containing now (nothing could have been spent in the periods
// skipped, and an allocation granted and forfeited unseen would only
// inflate both totals).
//
// # Choices where the documents are silent
//
//   - A hold remembers the grants it took from in the order it first took
//     from each; charging, carving and releasing go through them in that
//     order (seat credits of an ended period first, then seat, free, the
//     grants, overage).
//   - Holds that expire at the same instant are released in the order of
//     their reservation keys (quota.RequestHex), and a reservation's held
//     children are voided in the order they were reserved, depth first.
//     Both only matter for the order of grants within the hold they
//     return to.
//   - A child voided because its ancestor expired settles at that
//     ancestor's deadline: the instant it expired.
//
// # Pricing
//
// The model prices usage trees itself (Price): per agent and model, the
// tokens of each kind times the model's rate, summed and rounded up once
// to a whole µcredit; per action, the tier's credits (free 0, basic 1,
// advanced 3; a tool the table does not list and any external MCP server
// are advanced); nothing for an action that did not run, for anything in
// a Sidekick run, or for a platform tool's action in a conversation. It
// is an independent check of quota.Price on the trees the test makes,
// whose token counts and rates are small enough for int64 arithmetic.
package model
