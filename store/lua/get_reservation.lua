-- get_reservation.lua: read a reservation as of now. Holds of its member
-- past their deadline are released first (lazy release), so an expired
-- hold reads as EXPIRED even before the sweeper ran.
--
-- KEYS[1]  q:{ws:<id>}:res:<rid>    the reservation
-- Derived keys: acct:<member>, holds:<member>, deadlines, ledger.
-- ARGV[1..4] common (no request id); ARGV[7] reservation id.
-- Returns {"OK", "r.*", ..., "b.*", ...}, {"ERR", "NOT_FOUND"} or
-- {"ROLL", anchor_ms}.
local id = ARGV[7]
local member = redis.call('HGET', KEYS[1], 'member')
if not member then return {'ERR', 'NOT_FOUND'} end
local a = acct_load(member)
if a.exists and not ready(a) then return {'ROLL', workspace_anchor()} end
expire_due(a)
acct_save(a)
local r = res_load(id)
local out = {'OK'}
out_res(out, r)
out_acct(out, a)
return out
