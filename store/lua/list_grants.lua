-- list_grants.lua: a page of a workspace's grants, oldest first, with what
-- is left of each. Grants past their expiry are expired first.
--
-- KEYS[1]  q:{ws:<id>}:ws           workspace hash (must exist)
-- Derived keys: grant:<gid>, grants, grants_all, ledger.
-- ARGV[1..2] common; ARGV[7] cursor: the creation number after which to
-- start (0: the first); ARGV[8] page size.
-- Returns {"OK", "count", n, "next", cursor (0: last page), "g1.*", ...,
-- "g<n>.*", ...} or {"ERR", "WS_NOT_FOUND"}.
local w = ws_load()
if not w then return {'ERR', 'WS_NOT_FOUND'} end
pool_load(w)
ws_save(w)
pool_save()
local limit = tonumber(ARGV[8])
local ids = redis.call('ZRANGEBYSCORE', GRANTS_ALL, '(' .. ARGV[7], '+inf', 'LIMIT', 0, limit + 1)
local out = {'OK'}
local n = min(#ids, limit)
out_put(out, 'count', n)
local next = 0
if #ids > limit then next = grant_get(ids[limit]).seq end
out_put(out, 'next', next)
for i = 1, n do out_grant(out, 'g' .. i .. '.', grant_get(ids[i])) end
return out
