-- reserve.lua: take a hold on a member's credits, in source order.
--
-- KEYS[1]  q:{ws:<id>}:ws           workspace hash (must exist)
-- KEYS[2]  q:{ws:<id>}:idem:<req>   idempotency record
-- Derived keys (same hash tag): acct:<member>, holds:<member>, res:<id>,
-- deadlines, ledger.
-- ARGV[1..6] common (see lib.lua); ARGV[7] member id; ARGV[8] reservation
-- id; ARGV[9] origin (quota.Origin); ARGV[10] amount, ARGV[11] minimum
-- (µcredits; 0 and 0 for a free Sidekick run); ARGV[12] deadline (ms).
-- Returns {"OK", "r.*", ..., "b.*", ...} (the reservation and the account),
-- {"ERR", "DENIED", reason, requested, minimum, available (µcredits),
-- member},
-- {"ERR", "WS_NOT_FOUND"}, {"ERR", "IDEM"} or {"ROLL", anchor_ms}.
local cached = idem_check(KEYS[2])
if cached then return cached end
local anchor = workspace_anchor()
if not anchor then return {'ERR', 'WS_NOT_FOUND'} end

local member, id = ARGV[7], ARGV[8]
local want, least = tonumber(ARGV[10]), tonumber(ARGV[11])
local a = acct_load(member)
if a.exists then
  if not ready(a) then return {'ROLL', anchor} end
  expire_due(a)
end

local r = {id = id, member = member, rq = REQ_ID, cost = '', origin = tonumber(ARGV[9]),
  state = HELD, req = want, h_seat = 0, h_old = 0, h_free = 0, h_ps = a.ps,
  dl = tonumber(ARGV[12]), ct = NOW, st = 0, ch = 0, chh = 0, c_seat = 0, c_free = 0,
  rel = 0, sf = 0}
if want > 0 then
  local avail = 0
  if a.exists then avail = max(avail_seat(a), 0) + max(avail_free(a), 0) end
  if avail < least then
    acct_save(a)
    return denial(a, want, least)
  end
  r.h_seat, r.h_free = draw(a, min(want, avail), true)
end
res_save(r)
redis.call('ZADD', holds_key(member), r.dl, id)
redis.call('ZADD', DEADLINES, r.dl, id)
acct_save(a)
ledger('reserve', member, id, {'held', res_held(r), 'seat', r.h_seat, 'free', r.h_free})
local out = {'OK'}
out_res(out, r)
out_acct(out, a)
return idem_record(KEYS[2], out)
