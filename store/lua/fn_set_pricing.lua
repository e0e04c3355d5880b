-- fn_set_pricing.lua: store a new, immutable price version and make it
-- current.
-- uses: core
--
-- Keys (outside any workspace, in the {pricing} slot):
--   q:{pricing}:seq        the last version number
--   q:{pricing}:cur        the current version number
--   q:{pricing}:v:<n>      version n: "<created ms>,<actor>,<table JSON>"
--   q:{pricing}:versions   zset of version numbers (listing)
--   q:{pricing}:idem:<r>   idempotency records
-- KEYS[1]  q:{pricing}:cur
-- args[1..7] common (prefix "q:{pricing}:"); [8] the table (JSON); [9] who
-- set it.
-- Reply: {OK, version}; {ERR, E_IDEM}.
local function set_pricing(keys, args)
  local u = unit(keys, args)
  local prev = idem_get(u)
  if prev == false then return err_reply(K.E_IDEM) end
  if prev then return {K.OK, tonumber(string.match(prev, '^K,(%d+)$'))} end
  local v = redis.call('INCR', u.pre .. 'seq')
  redis.call('SET', u.pre .. 'v:' .. v, u.nows .. ',' .. args[9] .. ',' .. args[8])
  redis.call('SET', u.pre .. 'cur', v)
  redis.call('ZADD', u.pre .. 'versions', v, v)
  idem_put(u, 'K,' .. v)
  return {K.OK, v}
end
