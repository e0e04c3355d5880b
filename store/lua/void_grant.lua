-- void_grant.lua: end a live grant now: what is left is forfeited at once,
-- what is held is forfeited when released.
--
-- KEYS[1]  q:{ws:<id>}:ws           workspace hash (must exist)
-- KEYS[2]  q:{ws:<id>}:idem:<req>   idempotency record
-- Derived keys: grant:<gid>, grants, ledger.
-- ARGV[1..6] common; ARGV[7] grant id.
-- Returns {"OK", "g.*", ...} (the grant), {"ERR", "GRANT_NOT_FOUND"},
-- {"ERR", "GRANT_ENDED"}, {"ERR", "WS_NOT_FOUND"} or {"ERR", "IDEM"}.
local cached = idem_check(KEYS[2])
if cached then return cached end
local w = ws_load()
if not w then return {'ERR', 'WS_NOT_FOUND'} end
local g = grant_get(ARGV[7])
if not g then return {'ERR', 'GRANT_NOT_FOUND'} end
pool_load(w) -- expires the grants past their expiry, this one included
if g.state ~= G_ACTIVE then
  ws_save(w)
  pool_save()
  return idem_record(KEYS[2], {'ERR', 'GRANT_ENDED'})
end
grant_end(w, g, G_VOIDED)
ws_save(w)
pool_save()
return idem_record(KEYS[2], out_grant({'OK'}, 'g.', g))
