-- add_grant.lua: add a grant to a workspace's pool. Its id is "g" and its
-- creation number, which also orders grants oldest first.
--
-- KEYS[1]  q:{ws:<id>}:ws           workspace hash (must exist)
-- KEYS[2]  q:{ws:<id>}:idem:<req>   idempotency record
-- Derived keys: grant:<gid>, grants, grants_all, ledger.
-- ARGV[1..6] common; ARGV[7] kind (quota.GrantKind); ARGV[8] amount
-- (µcredits); ARGV[9] start (ms); ARGV[10] expiry (ms); ARGV[11] priority.
-- Returns {"OK", "g.*", ...} (the grant), {"ERR", "POOL_FULL", max} when
-- the pool would pass MAX_POOL granted in all, {"ERR", "WS_NOT_FOUND"} or
-- {"ERR", "IDEM"}.
local cached = idem_check(KEYS[2])
if cached then return cached end
local w = ws_load()
if not w then return {'ERR', 'WS_NOT_FOUND'} end
if w.p_granted + tonumber(ARGV[8]) > MAX_POOL then return {'ERR', 'POOL_FULL', fmt(MAX_POOL)} end
w.g_seq = w.g_seq + 1
local g = {id = 'g' .. fmt(w.g_seq), kind = tonumber(ARGV[7]), amount = tonumber(ARGV[8]),
  start = tonumber(ARGV[9]), exp = tonumber(ARGV[10]), prio = tonumber(ARGV[11]),
  seq = w.g_seq, ct = NOW, state = G_ACTIVE, held = 0, spent = 0, forf = 0}
hsave(grant_key(g.id), g, GRANT_FIELDS)
redis.call('ZADD', GRANTS, g.seq, g.id)
redis.call('ZADD', GRANTS_ALL, g.seq, g.id)
w.p_granted = w.p_granted + g.amount
ws_save(w)
ledger('grant_add', '', '', {'grant', g.id, 'amount', g.amount, 'start', g.start,
  'expiry', g.exp, 'priority', g.prio})
return idem_record(KEYS[2], out_grant({'OK'}, 'g.', g))
