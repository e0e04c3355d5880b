-- fn_list_grants.lua: a page of a workspace's grants, oldest first, with
-- what is left of each. Due grant starts and expiries are applied first.
-- uses: core account pool
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..2] common; [8] cursor: the creation number after which to start
-- (0: the first); [9] page size.
-- Reply: {OK, next (0: last page), n, K.G... n times}; {ERR, E_WS_NOT_FOUND}.
local function list_grants(keys, args)
  local u = unit(keys, args)
  local w = ws_get(u)
  if not w then return err_reply(K.E_WS_NOT_FOUND) end
  pool_tick(u, w, K.GRANT_STEPS)
  flush(u)
  local limit = tonumber(args[9])
  local ids = redis.call('ZRANGEBYSCORE', u.pre .. 'grants_all', '(' .. args[8], '+inf',
    'LIMIT', 0, limit + 1)
  local n = min(#ids, limit)
  local next = 0
  if #ids > limit then next = grant_get(u, ids[limit]).seq end
  local out = {K.OK, next, n}
  for i = 1, n do put_grant(out, u, grant_get(u, ids[i])) end
  return out
end
