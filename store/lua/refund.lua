-- refund.lua: void a held reservation; nothing is charged. Credits go back
-- where they came from, except seat credits of an ended period and credits
-- of a grant that has ended, which are forfeited.
--
-- KEYS[1]  q:{ws:<id>}:res:<rid>    the reservation
-- KEYS[2]  q:{ws:<id>}:idem:<req>   idempotency record
-- Derived keys: ws, acct:<owner>, holds:<owner>, grant:<id>, grants,
-- deadlines, ledger, events.
-- ARGV[1..6] common; ARGV[7] reservation id.
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
if r.state ~= HELD then
  finish(w, a)
  return idem_record(KEYS[2], {'ERR', 'TRANSITION', fmt(r.state), fmt(REFUNDED)})
end
local _, released, forfeited = settle(w, a, r, 0)
unindex(r)
r.state, r.st, r.rel = REFUNDED, NOW, released
res_save(r)
ledger('refund', owner, id, {'released', released, 'forfeited', forfeited})
return idem_record(KEYS[2], reply_res(w, a, finish(w, a), r))
