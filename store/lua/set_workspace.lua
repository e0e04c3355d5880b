-- set_workspace.lua: create or update a workspace's subscription anchor.
-- Accounts keep their current period; the next reset uses the new anchor.
--
-- KEYS[1]  q:{ws:<id>}:ws           workspace hash
-- KEYS[2]  q:{ws:<id>}:idem:<req>   idempotency record
-- ARGV[1..6] common; ARGV[7] workspace id; ARGV[8] anchor (ms).
-- Returns {"OK", "anchor", ms} or {"ERR", "IDEM"}.
local cached = idem_check(KEYS[2])
if cached then return cached end
redis.call('HSET', KEYS[1], 'id', ARGV[7], 'anchor', ARGV[8])
ledger('workspace', '', '', {'anchor', ARGV[8]})
return idem_record(KEYS[2], {'OK', 'anchor', ARGV[8]})
