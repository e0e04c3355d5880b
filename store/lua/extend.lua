-- extend.lua: raise a held reservation (all or nothing, in source order)
-- and/or move its deadline.
--
-- KEYS[1]  q:{ws:<id>}:res:<rid>    the reservation
-- KEYS[2]  q:{ws:<id>}:idem:<req>   idempotency record
-- Derived keys: acct:<member>, holds:<member>, deadlines, ledger.
-- ARGV[1..6] common; ARGV[7] reservation id; ARGV[8] µcredits to add (may
-- be 0); ARGV[9] new deadline (ms; 0 keeps it).
-- Returns {"OK", "r.*", ..., "b.*", ...}, {"ERR", "NOT_FOUND"},
-- {"ERR", "TRANSITION", from_state, to_state}, {"ERR", "DENIED", ...},
-- {"ERR", "IDEM"} or {"ROLL", anchor_ms}.
local cached = idem_check(KEYS[2])
if cached then return cached end
local id = ARGV[7]
local member = redis.call('HGET', KEYS[1], 'member')
if not member then return {'ERR', 'NOT_FOUND'} end
local a = acct_load(member)
if a.exists and not ready(a) then return {'ROLL', workspace_anchor()} end
expire_due(a)
local r = res_load(id)
if r.state ~= HELD then
  acct_save(a)
  return {'ERR', 'TRANSITION', fmt(r.state), fmt(HELD)}
end

local add, dl = tonumber(ARGV[8]), tonumber(ARGV[9])
local d_seat, d_free = 0, 0
if add > 0 then
  normalize(r, a)
  local avail = 0
  if a.exists then avail = max(avail_seat(a), 0) + max(avail_free(a), 0) end
  if avail < add then
    acct_save(a)
    return denial(a, add, add)
  end
  d_seat, d_free = draw(a, add, true)
  r.h_seat, r.h_free, r.req = r.h_seat + d_seat, r.h_free + d_free, r.req + add
end
if dl > 0 then
  r.dl = dl
  redis.call('ZADD', holds_key(member), dl, id)
  redis.call('ZADD', DEADLINES, dl, id)
end
res_save(r)
acct_save(a)
ledger('extend', member, id, {'held', d_seat + d_free, 'seat', d_seat, 'free', d_free,
  'deadline', r.dl})
local out = {'OK'}
out_res(out, r)
out_acct(out, a)
return idem_record(KEYS[2], out)
