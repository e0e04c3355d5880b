-- set_pricing.lua: replace the price table.
--
-- KEYS[1]  q:{pricing}:table        the table (JSON)
-- KEYS[2]  q:{pricing}:idem:<req>   idempotency record
-- ARGV[1..6] common (prefix unused); ARGV[7] the table (JSON).
-- Returns {"OK", "table", json} or {"ERR", "IDEM"}.
local cached = idem_check(KEYS[2])
if cached then return cached end
redis.call('SET', KEYS[1], ARGV[7])
return idem_record(KEYS[2], {'OK', 'table', ARGV[7]})
