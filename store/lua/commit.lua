-- commit.lua: settle a reservation with the priced cost of its run.
--
-- The cost is charged from the hold first (in the order it was drawn), the
-- rest of the hold is released, and what the hold did not cover is drawn
-- from the sources in order, within every cap; what no source can pay is
-- recorded as a shortfall. Never fails for lack of credits. An expired
-- reservation may still be committed: it is charged from the sources.
--
-- KEYS[1]  q:{ws:<id>}:res:<rid>    the reservation
-- KEYS[2]  q:{ws:<id>}:idem:<req>   idempotency record
-- Derived keys: ws, acct:<owner>, holds:<owner>, grant:<id>, grants,
-- deadlines, ledger, events.
-- ARGV[1..6] common; ARGV[7] reservation id; ARGV[8] total cost
-- (µcredits); ARGV[9] the priced run (JSON, stored for GetReservation).
-- Returns {"OK", "r.*", ..., "b.*", ...}, {"ERR", "NOT_FOUND"},
-- {"ERR", "TRANSITION", from_state, to_state}, {"ERR", "IDEM"} or
-- {"ROLL", anchor_ms}.
local cached = idem_check(KEYS[2])
if cached then return cached end
local id = ARGV[7]
local owner = redis.call('HGET', KEYS[1], 'member')
if not owner then return {'ERR', 'NOT_FOUND'} end
local w, a, p, ok = open(owner)
if not w then return {'ERR', 'NOT_FOUND'} end
if not ok then return {'ROLL', fmt(w.anchor)} end
local r = res_load(id)
if r.state ~= HELD and r.state ~= EXPIRED then
  finish(w, a)
  return idem_record(KEYS[2], {'ERR', 'TRANSITION', fmt(r.state), fmt(COMMITTED)})
end

local cost = tonumber(ARGV[8])
local c = {seat = 0, free = 0, pool = 0, grants = {}, ov = 0}
local released, forfeited = 0, 0
if r.state == HELD then
  c, released, forfeited = settle(w, a, r, cost)
  unindex(r)
  r.rel = released
end
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
r.state, r.st, r.cost = COMMITTED, NOW, ARGV[9]
res_save(r)
ledger('commit', owner, id, {'cost', cost, 'from_hold', from_hold, 'seat', r.c_seat,
  'free', r.c_free, 'pool', r.c_pool, 'grants', r.c_grants, 'overage', r.c_ov,
  'released', released, 'forfeited', forfeited, 'shortfall', r.sf})
return idem_record(KEYS[2], reply_res(w, a, finish(w, a), r))
