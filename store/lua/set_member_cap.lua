-- set_member_cap.lua: set or clear a member's pool cap override. The cap
-- bounds what the member draws from the pool per period (held and spent).
--
-- KEYS[1]  q:{ws:<id>}:ws           workspace hash (must exist)
-- KEYS[2]  q:{ws:<id>}:idem:<req>   idempotency record
-- Derived keys: acct:<member>, holds:<member>, res:*, grant:*, grants,
-- deadlines, ledger, events.
-- ARGV[1..6] common; ARGV[7] member id; ARGV[8] the override (µcredits per
-- period; -1 unlimited; -2 none: the workspace default applies).
-- Returns {"OK", "b.*", ...}, {"ERR", "WS_NOT_FOUND"}, {"ERR", "IDEM"} or
-- {"ROLL", anchor_ms}.
local cached = idem_check(KEYS[2])
if cached then return cached end
local w, a, p, ok = open(ARGV[7], true)
if not w then return {'ERR', 'WS_NOT_FOUND'} end
if not ok then return {'ROLL', fmt(w.anchor)} end
a.pcap = tonumber(ARGV[8])
ledger('member_pool_cap', a.member, '', {'pool_cap', a.pcap})
return idem_record(KEYS[2], out_acct({'OK'}, w, a, finish(w, a)))
