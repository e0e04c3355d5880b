-- commit.lua: settle a reservation with the priced cost of its run.
--
-- The cost is charged from the hold first (earlier-period seat credits,
-- then seat, then free), the rest of the hold is released, and what the
-- hold did not cover is drawn from the sources in order; what no source can
-- pay is recorded as a shortfall. Never fails for lack of credits. An
-- expired reservation may still be committed: it is charged from the
-- sources.
--
-- KEYS[1]  q:{ws:<id>}:res:<rid>    the reservation
-- KEYS[2]  q:{ws:<id>}:idem:<req>   idempotency record
-- Derived keys: acct:<member>, holds:<member>, deadlines, ledger.
-- ARGV[1..6] common; ARGV[7] reservation id; ARGV[8] total cost
-- (µcredits); ARGV[9] the priced run (JSON, stored for GetReservation).
-- Returns {"OK", "r.*", ..., "b.*", ...}, {"ERR", "NOT_FOUND"},
-- {"ERR", "TRANSITION", from_state, to_state}, {"ERR", "IDEM"} or
-- {"ROLL", anchor_ms}.
local cached = idem_check(KEYS[2])
if cached then return cached end
local id = ARGV[7]
local member = redis.call('HGET', KEYS[1], 'member')
if not member then return {'ERR', 'NOT_FOUND'} end
local a = acct_load(member)
if a.exists and not ready(a) then return {'ROLL', workspace_anchor()} end
expire_due(a)
local r = res_load(id)
if r.state ~= HELD and r.state ~= EXPIRED then
  acct_save(a)
  return {'ERR', 'TRANSITION', fmt(r.state), fmt(COMMITTED)}
end

local cost = tonumber(ARGV[8])
local c_seat, c_free, released, forfeited = 0, 0, 0, 0
if r.state == HELD then
  c_seat, c_free, released, forfeited = settle(r, a, cost)
  unindex(r)
  r.rel = released
end
local from_hold = c_seat + c_free
local rest = cost - from_hold
local d_seat, d_free = 0, 0
if rest > 0 and a.exists then d_seat, d_free = draw(a, rest, false) end
r.c_seat, r.c_free = c_seat + d_seat, c_free + d_free
r.ch, r.chh, r.sf = r.c_seat + r.c_free, from_hold, rest - d_seat - d_free
r.state, r.st, r.cost = COMMITTED, NOW, ARGV[9]
res_save(r)
acct_save(a)
ledger('commit', member, id, {'cost', cost, 'from_hold', from_hold, 'seat', r.c_seat,
  'free', r.c_free, 'released', released, 'forfeited', forfeited, 'shortfall', r.sf})
local out = {'OK'}
out_res(out, r)
out_acct(out, a)
return idem_record(KEYS[2], out)
