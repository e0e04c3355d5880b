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
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', NOW, 'LIMIT', 0, tonumber(ARGV[7]))
local n = 0
for _, id in ipairs(ids) do
  local r, ok = res_load(id)
  if ok and r.state == HELD then
    local a = acct_load(r.member)
    expire(w, a, r)
    acct_save(a)
    n = n + 1
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
pool_load(w)
ws_save(w)
pool_save()
return n
