-- set_policy.lua: set a workspace's pool and overage settings. Caps apply
-- to draws from now on; pooled mode applies at each member's next reset.
--
-- KEYS[1]  q:{ws:<id>}:ws           workspace hash (must exist)
-- KEYS[2]  q:{ws:<id>}:idem:<req>   idempotency record
-- ARGV[1..6] common; ARGV[7] default member pool cap (µcredits per period,
-- -1 unlimited); ARGV[8] overage on (1/0); ARGV[9] overage cap per period;
-- ARGV[10] programmatic cap per period (-1 unlimited); ARGV[11] pooled
-- (1/0).
-- Returns {"OK", "w.*", ...} (the settings), {"ERR", "WS_NOT_FOUND"} or
-- {"ERR", "IDEM"}.
local cached = idem_check(KEYS[2])
if cached then return cached end
local w = ws_load()
if not w then return {'ERR', 'WS_NOT_FOUND'} end
w.pcap, w.ov_on, w.ov_cap = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
w.prog_cap, w.pooled = tonumber(ARGV[10]), tonumber(ARGV[11])
ws_save(w)
ledger('policy', '', '', {'pool_cap', w.pcap, 'overage', w.ov_on, 'overage_cap', w.ov_cap,
  'programmatic_cap', w.prog_cap, 'pooled', w.pooled})
local out = {'OK'}
for _, f in ipairs({'anchor', 'pooled', 'pcap', 'ov_on', 'ov_cap', 'prog_cap'}) do
  out_put(out, 'w.' .. f, w[f])
end
return idem_record(KEYS[2], out)
