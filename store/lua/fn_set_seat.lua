-- fn_set_seat.lua: give a member a seat. A higher rank (an upgrade) takes
-- effect at once: the period's seat credits become the new monthly
-- allocation minus what was already spent from seat credits this period,
-- never less than what was left (a pooled workspace gives no seat
-- credits). A lower rank (a downgrade, an unassignment) is recorded and
-- takes effect at the next reset; nothing already allocated is revoked.
-- The same rank cancels a pending change. A Free seat grants the free
-- lifetime credits once, when it takes effect.
-- uses: core account pool hold
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..7] common; [8] member id; [9] seat rank (quota.Seat.Rank); [10]
-- the seat's monthly allocation; [11] its lifetime allocation (µcredits).
-- Reply: {OK, K.B...}; {ERR, E_WS_NOT_FOUND}; {ERR, E_IDEM}; {ROLL, anchor}.
local function set_seat(keys, args)
  local u = unit(keys, args)
  local prev = idem_get(u)
  if prev == false then return err_reply(K.E_IDEM) end
  local w = ws_get(u)
  if not w then return err_reply(K.E_WS_NOT_FOUND) end
  local a = acct_get(u, args[8])
  acct_create(u, a)
  if not ready(u, w, a) then return {K.ROLL, w.anchor} end
  pool_tick(u, w, K.GRANT_STEPS)
  expire_due(u, w, a, K.EXPIRE_PER_CALL)
  if not prev then
    local rank, monthly, life = tonumber(args[9]), tonumber(args[10]), tonumber(args[11])
    if rank > a.seat then
      local credited = monthly
      if w.pooled == 1 then credited = 0 end
      local left = a.s_alloc - a.s_spent
      local delta = max(credited - a.s_spent, left) - left
      a.s_alloc, a.alloc = a.s_alloc + delta, a.alloc + delta
      a.seat, a.smon, a.next, a.nmon, a.nlife = rank, monthly, -1, 0, 0
      ledger(u, 'upgrade', a.member, '', {'seat', rank, 'allocated', delta})
      grant_lifetime(u, a, life)
    elseif rank < a.seat then
      a.next, a.nmon, a.nlife = rank, monthly, life
      ledger(u, 'seat_at_reset', a.member, '', {'seat', rank, 'effective', a.pe})
    else
      a.next, a.nmon, a.nlife = -1, 0, 0
      ledger(u, 'seat', a.member, '', {'seat', rank})
    end
    touch(u, a)
    idem_put(u, 'K')
  end
  finish(u, w, a)
  return reply_balance(w, a)
end
