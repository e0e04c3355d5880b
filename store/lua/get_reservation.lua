-- get_reservation.lua: read a reservation as of now. Holds of its owner
-- past their deadline are released first (lazy release), so an expired
-- hold reads as EXPIRED even before the sweeper ran.
--
-- KEYS[1]  q:{ws:<id>}:res:<rid>    the reservation
-- Derived keys: ws, acct:<owner>, holds:<owner>, grant:<id>, grants,
-- deadlines, ledger, events.
-- ARGV[1..4] common (no request id); ARGV[7] reservation id.
-- Returns {"OK", "r.*", ..., "b.*", ...}, {"ERR", "NOT_FOUND"}
-- or {"ROLL", anchor_ms}.
local owner = redis.call('HGET', KEYS[1], 'member')
if not owner then return {'ERR', 'NOT_FOUND'} end
local w, a, p, ok = open(owner)
if not w then return {'ERR', 'NOT_FOUND'} end
if not ok then return {'ROLL', fmt(w.anchor)} end
local r = res_load(ARGV[7])
return reply_res(w, a, finish(w, a), r)
