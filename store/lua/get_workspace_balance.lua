-- get_workspace_balance.lua: a workspace's pool, overage and programmatic
-- usage as of now: the period is rolled over if it ended, holds of the
-- workspace past their deadline are released (up to EXPIRE_OTHERS; the
-- sweeper keeps the backlog below it) and grants past their expiry are
-- expired first.
--
-- KEYS[1]  q:{ws:<id>}:ws           workspace hash (must exist)
-- Derived keys: deadlines, res:*, acct:*, holds:*, grant:*, grants, ledger.
-- ARGV[1..4] common (no request id).
-- Returns {"OK", "w.*", ...}, {"ERR", "WS_NOT_FOUND"} or {"ROLL", anchor_ms}.
local w = ws_load()
if not w then return {'ERR', 'WS_NOT_FOUND'} end
if not ready(w, nil) then return {'ROLL', fmt(w.anchor)} end
expire_workspace(w, nil, EXPIRE_OTHERS)
local p = pool_load(w)
pool_event(w, p)
ws_save(w)
pool_save()
return out_ws({'OK'}, w, p)
