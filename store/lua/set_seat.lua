-- set_seat.lua: give a member a seat. A higher rank (an upgrade) takes
-- effect at once: the period's seat credits become the new monthly
-- allocation minus what was already spent from seat credits this period,
-- never less than what was left (a pooled workspace gives no seat
-- credits). A lower rank (a downgrade, an unassignment) is recorded and
-- takes effect at the next reset; nothing already allocated is revoked.
-- The same rank cancels a pending change. A Free seat grants the free
-- lifetime credits once, when it takes effect.
--
-- KEYS[1]  q:{ws:<id>}:ws           workspace hash (must exist)
-- KEYS[2]  q:{ws:<id>}:idem:<req>   idempotency record
-- Derived keys: acct:<member>, holds:<member>, res:*, grant:*, grants,
-- deadlines, ledger, events.
-- ARGV[1..6] common; ARGV[7] member id; ARGV[8] seat rank (0 none, 1 free,
-- 2 pro, 3 max); ARGV[9] the seat's monthly allocation; ARGV[10] its
-- lifetime allocation (µcredits).
-- Returns {"OK", "b.*", ...}, {"ERR", "WS_NOT_FOUND"}, {"ERR", "IDEM"} or
-- {"ROLL", anchor_ms}.
local cached = idem_check(KEYS[2])
if cached then return cached end
local w, a, p, ok = open(ARGV[7], true)
if not w then return {'ERR', 'WS_NOT_FOUND'} end
if not ok then return {'ROLL', fmt(w.anchor)} end

local rank, monthly, life = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
if rank > a.seat then
  local credited = monthly
  if w.pooled == 1 then credited = 0 end
  local left = a.s_alloc - a.s_spent
  local delta = max(credited - a.s_spent, left) - left
  a.s_alloc, a.alloc = a.s_alloc + delta, a.alloc + delta
  a.seat, a.smon, a.next, a.nmon, a.nlife = rank, monthly, -1, 0, 0
  ledger('upgrade', a.member, '', {'seat', rank, 'allocated', delta})
  grant_lifetime(a, life)
elseif rank < a.seat then
  a.next, a.nmon, a.nlife = rank, monthly, life
  ledger('seat_at_reset', a.member, '', {'seat', rank, 'effective', a.pe})
else
  a.next, a.nmon, a.nlife = -1, 0, 0
  ledger('seat', a.member, '', {'seat', rank})
end
return idem_record(KEYS[2], out_acct({'OK'}, w, a, finish(w, a)))
