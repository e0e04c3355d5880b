-- set_workspace.lua: create a workspace (no pool cap, no overage, no
-- programmatic cap, not pooled) or update its subscription anchor.
-- Accounts keep their current period; the next reset uses the new anchor.
--
-- KEYS[1]  q:{ws:<id>}:ws           workspace hash
-- KEYS[2]  q:{ws:<id>}:idem:<req>   idempotency record
-- ARGV[1..6] common; ARGV[7] workspace id; ARGV[8] anchor (ms).
-- Returns {"OK", "w.*", ...} (the settings) or {"ERR", "IDEM"}.
local cached = idem_check(KEYS[2])
if cached then return cached end
local w = ws_load()
if not w then
  w = {}
  for _, f in ipairs(WS_NUMS) do w[f] = 0 end
  w.pcap, w.prog_cap = -1, -1
end
w.anchor = tonumber(ARGV[8])
ws_save(w)
redis.call('HSET', KEYS[1], 'id', ARGV[7])
ledger('workspace', '', '', {'anchor', w.anchor})
local out = {'OK'}
for _, f in ipairs({'anchor', 'pooled', 'pcap', 'ov_on', 'ov_cap', 'prog_cap'}) do
  out_put(out, 'w.' .. f, w[f])
end
return idem_record(KEYS[2], out)
