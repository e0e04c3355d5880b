-- refund.lua: void a held reservation, its children still held, and the
-- costs its committed descendants recorded under it; nothing is charged.
-- The hold returns to the nearest held ancestor of a child, or to the
-- sources: where it came from, except seat credits of an ended period and
-- credits of a grant that has ended, which are forfeited.
--
-- KEYS[1]  q:{ws:<id>}:res:<rid>    the reservation
-- KEYS[2]  q:{ws:<id>}:idem:<req>   idempotency record
-- Derived keys: ws, acct:<owner>, holds:<owner>, res:*, kids:*, grant:<id>,
-- grants, deadlines, ledger, events.
-- ARGV[1..6] common; ARGV[7] reservation id.
-- Returns {"OK", "r.*", ..., "b.*", ...}, {"ERR", "NOT_FOUND"},
-- {"ERR", "TRANSITION", from_state, to_state}, {"ERR", "IDEM"} or
-- {"ROLL", anchor_ms}.
local cached = idem_check(KEYS[2])
if cached then return cached end
local id = ARGV[7]
local ok, w, a, p, r = open_res(KEYS[1], id)
if not ok then return w end
local owner = r.member
if r.state ~= HELD then
  finish(w, a)
  return idem_record(KEYS[2], {'ERR', 'TRANSITION', fmt(r.state), fmt(REFUNDED)})
end
void_kids(a, r, REFUNDED)
r.kc = 0 -- a refund drops the costs recorded under it
local q, released, forfeited = release(w, a, r, false)
unindex(r)
r.state, r.st, r.rel = REFUNDED, NOW, released
res_save(r)
ledger('refund', owner, id, {'released', released, 'forfeited', forfeited,
  'into', q and q.id or ''})
return idem_record(KEYS[2], reply_res(w, a, finish(w, a), r))
