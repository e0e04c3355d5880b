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
local ok, w, a, p, r = open_res(KEYS[1], ARGV[7])
if not ok then return w end
return reply_res(w, a, finish(w, a), r)
