-- get_balance.lua: read a member's account as of now: the period is rolled
-- over if it ended and holds past their deadline are released first.
--
-- KEYS[1]  q:{ws:<id>}:ws           workspace hash (must exist)
-- Derived keys: acct:<member>, holds:<member>, res:*, deadlines, ledger.
-- ARGV[1..4] common (no request id); ARGV[7] member id.
-- Returns {"OK", "b.*", ...} (for a member never seen: an empty account in
-- the current period), {"ERR", "WS_NOT_FOUND"} or {"ROLL", anchor_ms}.
local anchor = workspace_anchor()
if not anchor then return {'ERR', 'WS_NOT_FOUND'} end
local a = acct_load(ARGV[7])
if a.exists then
  if not ready(a) then return {'ROLL', anchor} end
  expire_due(a)
  acct_save(a)
elseif ROLL_PE > 0 then
  a.ps, a.pe = ROLL_PS, ROLL_PE
else
  return {'ROLL', anchor}
end
return out_acct({'OK'}, a)
