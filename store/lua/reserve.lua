-- reserve.lua: take a hold for a member or a programmatic spender, in
-- source order (seat, free, pool, overage) and within every cap.
--
-- KEYS[1]  q:{ws:<id>}:ws           workspace hash (must exist)
-- KEYS[2]  q:{ws:<id>}:idem:<req>   idempotency record
-- Derived keys (same hash tag): acct:<owner>, holds:<owner>, res:<id>,
-- grant:<id>, grants, deadlines, ledger, events.
-- ARGV[1..6] common (see lib.lua); ARGV[7] owner (a member id, or "~" and
-- a spender id); ARGV[8] reservation id; ARGV[9] origin (quota.Origin);
-- ARGV[10] amount, ARGV[11] minimum (µcredits; 0 and 0 for a free Sidekick
-- run); ARGV[12] deadline (ms).
-- Returns {"OK", "r.*", ..., "b.*", ...} (the reservation and the
-- owner's account), {"ERR", "DENIED", reason, requested,
-- minimum, available (µcredits), member, spender}, {"ERR", "WS_NOT_FOUND"},
-- {"ERR", "IDEM"} or {"ROLL", anchor_ms}.
local cached = idem_check(KEYS[2])
if cached then return cached end
local owner, id = ARGV[7], ARGV[8]
local want, least = tonumber(ARGV[10]), tonumber(ARGV[11])
local w, a, p, ok = open(owner)
if not w then return {'ERR', 'WS_NOT_FOUND'} end
if not ok then return {'ROLL', fmt(w.anchor)} end

local r = {id = id, member = owner, rq = REQ_ID, cost = '', origin = tonumber(ARGV[9]),
  state = HELD, req = want, h_seat = 0, h_old = 0, h_free = 0, h_pool = 0, h_grants = '',
  h_ov = 0, h_ps = a.ps, h_wps = w.wps, dl = tonumber(ARGV[12]), ct = NOW, st = 0,
  ch = 0, chh = 0, c_seat = 0, c_free = 0, c_pool = 0, c_grants = '', c_ov = 0, rel = 0, sf = 0}
if want > 0 then
  local avail = spendable(w, a, p)
  if avail < least then
    return idem_record(KEYS[2], denial(w, a, finish(w, a), want, least))
  end
  local d = draw(w, a, p, min(want, avail), true)
  r.h_seat, r.h_free, r.h_pool = d.seat, d.free, d.pool
  r.h_grants, r.h_ov = parts_encode(d.grants), d.ov
end
res_save(r)
redis.call('ZADD', holds_key(owner), r.dl, id)
redis.call('ZADD', DEADLINES, r.dl, id)
ledger('reserve', owner, id, {'held', res_held(r), 'seat', r.h_seat, 'free', r.h_free,
  'pool', r.h_pool, 'grants', r.h_grants, 'overage', r.h_ov})
return idem_record(KEYS[2], reply_res(w, a, finish(w, a), r))
