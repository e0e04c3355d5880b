-- commit.lua: settle a reservation with the priced cost of its run.
--
-- A child whose run still has a held ancestor records its cost there: its
-- hold returns to that ancestor and nothing is charged yet. Anything else
-- (a root, or a child that outlived every ancestor) is charged: its own
-- cost and the costs its committed descendants recorded under it, from
-- its hold first (in the order it was drawn), the rest of the hold
-- released, what the hold did not cover drawn from the sources in order
-- within every cap, and what no source can pay recorded as a shortfall.
-- Children still held are voided first. Never fails for lack of credits.
-- An expired reservation may still be committed.
--
-- KEYS[1]  q:{ws:<id>}:res:<rid>    the reservation
-- KEYS[2]  q:{ws:<id>}:idem:<req>   idempotency record
-- Derived keys: ws, acct:<owner>, holds:<owner>, res:*, kids:*, grant:<id>,
-- grants, deadlines, ledger, events.
-- ARGV[1..6] common; ARGV[7] reservation id; ARGV[8] its own cost
-- (µcredits); ARGV[9] the priced run (JSON, stored for GetReservation);
-- ARGV[10] its token credits (for the run's token cap).
-- Returns {"OK", "r.*", ..., "b.*", ...}, {"ERR", "NOT_FOUND"},
-- {"ERR", "TRANSITION", from_state, to_state}, {"ERR", "IDEM"} or
-- {"ROLL", anchor_ms}.
local cached = idem_check(KEYS[2])
if cached then return cached end
local id = ARGV[7]
local ok, w, a, p, r = open_res(KEYS[1], id)
if not ok then return w end
local owner = r.member
if r.state ~= HELD and r.state ~= EXPIRED then
  finish(w, a)
  return idem_record(KEYS[2], {'ERR', 'TRANSITION', fmt(r.state), fmt(COMMITTED)})
end

local own = tonumber(ARGV[8])
local was_held = r.state == HELD
void_kids(a, r, REFUNDED)
local root = res_load(r.root)
root.rtok = root.rtok + tonumber(ARGV[10])
r.oc, r.cost, r.state, r.st = own, ARGV[9], COMMITTED, NOW
if was_held then unindex(r) end

local q = nearest_held(r)
if q then
  local moved = merge(a, q, r, true)
  q.kc = q.kc + own
  r.rec = 1 -- charged with the root: its settlement amounts stay 0
  res_save(q)
  res_save(r)
  if root ~= r then res_save(root) end
  ledger('record', owner, id, {'cost', own, 'into', q.id, 'released', moved})
  return idem_record(KEYS[2], reply_res(w, a, finish(w, a), r))
end

local cost = own + r.kc
local c = {seat = 0, free = 0, pool = 0, grants = {}, ov = 0}
local released, forfeited = 0, 0
if was_held then
  c, released, forfeited = settle(w, a, r, cost)
  r.rel = released
end
r.kc = 0
local from_hold = c.seat + c.free + c.pool + c.ov
if cost > from_hold then
  local d = draw(w, a, p, cost - from_hold, false)
  for _, e in ipairs(d.grants) do parts_add(c.grants, e[1], e[2]) end
  c.seat, c.free, c.pool, c.ov = c.seat + d.seat, c.free + d.free, c.pool + d.pool, c.ov + d.ov
end
r.c_seat, r.c_free, r.c_pool = c.seat, c.free, c.pool
r.c_grants, r.c_ov = parts_encode(c.grants), c.ov
r.ch = c.seat + c.free + c.pool + c.ov
r.chh, r.sf = from_hold, cost - r.ch
res_save(r)
if root ~= r then res_save(root) end
ledger('commit', owner, id, {'cost', cost, 'own', own, 'from_hold', from_hold,
  'seat', r.c_seat, 'free', r.c_free, 'pool', r.c_pool, 'grants', r.c_grants,
  'overage', r.c_ov, 'released', released, 'forfeited', forfeited, 'shortfall', r.sf})
return idem_record(KEYS[2], reply_res(w, a, finish(w, a), r))
