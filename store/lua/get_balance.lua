-- get_balance.lua: read a member's account as of now: periods are rolled
-- over if they ended and holds past their deadline are released first.
--
-- KEYS[1]  q:{ws:<id>}:ws           workspace hash (must exist)
-- Derived keys: acct:<member>, holds:<member>, res:*, grant:*, grants,
-- deadlines, ledger, events.
-- ARGV[1..4] common (no request id); ARGV[7] member id.
-- Returns {"OK", "b.*", ...} (for a member never seen: an empty account in
-- the workspace's current period), {"ERR", "WS_NOT_FOUND"} or
-- {"ROLL", anchor_ms}.
local w, a, p, ok = open(ARGV[7])
if not w then return {'ERR', 'WS_NOT_FOUND'} end
if not ok then return {'ROLL', fmt(w.anchor)} end
if not a.exists then a.ps, a.pe = w.wps, w.wpe end
return out_acct({'OK'}, w, a, finish(w, a))
