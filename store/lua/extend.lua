-- extend.lua: raise a held reservation (all or nothing, in source order)
-- and/or move its deadline.
--
-- KEYS[1]  q:{ws:<id>}:res:<rid>    the reservation
-- KEYS[2]  q:{ws:<id>}:idem:<req>   idempotency record
-- Derived keys: ws, acct:<owner>, holds:<owner>, grant:<id>, grants,
-- deadlines, ledger, events.
-- ARGV[1..6] common; ARGV[7] reservation id; ARGV[8] µcredits to add (may
-- be 0); ARGV[9] new deadline (ms; 0 keeps it).
-- Returns {"OK", "r.*", ..., "b.*", ...}, {"ERR", "NOT_FOUND"},
-- {"ERR", "TRANSITION", from_state, to_state}, {"ERR", "DENIED", ...},
-- {"ERR", "IDEM"} or {"ROLL", anchor_ms}.
local cached = idem_check(KEYS[2])
if cached then return cached end
local id = ARGV[7]
local owner = redis.call('HGET', KEYS[1], 'member')
if not owner then return {'ERR', 'NOT_FOUND'} end
local w, a, p, ok = open(owner)
if not w then return {'ERR', 'NOT_FOUND'} end
if not ok then return {'ROLL', fmt(w.anchor)} end
local r = res_load(id)
if r.state ~= HELD then
  finish(w, a)
  return idem_record(KEYS[2], {'ERR', 'TRANSITION', fmt(r.state), fmt(HELD)})
end

local add, dl = tonumber(ARGV[8]), tonumber(ARGV[9])
local d = {seat = 0, free = 0, pool = 0, grants = {}, ov = 0}
if add > 0 then
  normalize(a, r)
  if spendable(w, a, p) < add then
    res_save(r)
    return idem_record(KEYS[2], denial(w, a, finish(w, a), add, add))
  end
  d = draw(w, a, p, add, true)
  local grants = parts_decode(r.h_grants)
  for _, e in ipairs(d.grants) do parts_add(grants, e[1], e[2]) end
  r.h_seat, r.h_free, r.h_pool = r.h_seat + d.seat, r.h_free + d.free, r.h_pool + d.pool
  r.h_grants, r.h_ov, r.req = parts_encode(grants), r.h_ov + d.ov, r.req + add
end
if dl > 0 then
  r.dl = dl
  redis.call('ZADD', holds_key(owner), dl, id)
  redis.call('ZADD', DEADLINES, dl, id)
end
res_save(r)
ledger('extend', owner, id, {'held', d.seat + d.free + d.pool + d.ov, 'seat', d.seat,
  'free', d.free, 'pool', d.pool, 'grants', parts_encode(d.grants), 'overage', d.ov,
  'deadline', r.dl})
return idem_record(KEYS[2], reply_res(w, a, finish(w, a), r))
