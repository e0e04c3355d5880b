-- sweep.lua: release up to a limit of holds whose deadline has passed, and
-- expire the grants past their expiry, in one workspace. Safe to run from
-- any number of replicas at once: each hold is released once, by whichever
-- script reaches it first. Periods are not rolled over here: seat credits
-- released into a period that has ended are forfeited at that account's
-- next reset, as they would have been.
--
-- KEYS[1]  q:{ws:<id>}:deadlines    live holds by deadline
-- Derived keys: ws, res:<rid>, acct:<owner>, holds:<owner>, grant:*,
-- grants, ledger.
-- ARGV[1..2] common; ARGV[7] limit.
-- Returns the number of holds released (integer).
local w = ws_load()
if not w then return 0 end
local n = expire_workspace(w, nil, tonumber(ARGV[7]))
pool_load(w)
ws_save(w)
pool_save()
return n
