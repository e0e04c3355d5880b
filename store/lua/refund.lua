-- refund.lua: void a held reservation; nothing is charged. Seat credits of
-- an ended period are forfeited rather than returned.
--
-- KEYS[1]  q:{ws:<id>}:res:<rid>    the reservation
-- KEYS[2]  q:{ws:<id>}:idem:<req>   idempotency record
-- Derived keys: acct:<member>, holds:<member>, deadlines, ledger.
-- ARGV[1..6] common; ARGV[7] reservation id.
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
if r.state ~= HELD then
  acct_save(a)
  return {'ERR', 'TRANSITION', fmt(r.state), fmt(REFUNDED)}
end
local _, _, released, forfeited = settle(r, a, 0)
unindex(r)
r.state, r.st, r.rel = REFUNDED, NOW, released
res_save(r)
acct_save(a)
ledger('refund', member, id, {'released', released, 'forfeited', forfeited})
local out = {'OK'}
out_res(out, r)
out_acct(out, a)
return idem_record(KEYS[2], out)
