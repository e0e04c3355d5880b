-- fn_adjust.lua: an operator's adjustment of a member's own credits or of
-- the workspace pool, with the operator and their reason in the ledger
-- (op "adjust").
-- uses: core account pool hold
--
-- A member's credit adds to this period's seat credits (s_alloc and the
-- lifetime alloc): drawn first, like the seat's own, and forfeited at the
-- reset if unused. A member's debit takes from what is available of them
-- (never from holds, spent credits or the free lifetime credits). A pool
-- credit is a new grant (kind args[13], active now, expiring at args[12]);
-- a pool debit takes from the active grants' available credits in draw
-- order, shrinking their amounts (and the pool's granted sum).
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..7] common; [8] member id ("" for the pool); [9] amount
-- (µcredits: > 0 credits, < 0 debits); [10] the operator; [11] the
-- reason; [12] a pool credit's grant expiry (ms); [13] its grant kind.
-- Reply: {OK, 1, K.B..., K.W..., 0} for a member; {OK, 0, K.W..., 1,
-- K.G...} for a pool credit; {OK, 0, K.W..., 0} for a pool debit;
-- {ERR, E_ADJUST_EXCEEDS, available}; {ERR, E_MEMBER_NOT_FOUND};
-- {ERR, E_LIMIT, limit} when the pool would pass K.MAX_POOL granted or
-- K.MAX_POOL_GRANTS live grants;
-- {ERR, E_WS_NOT_FOUND}; {ERR, E_IDEM}; {ROLL, anchor}.
local function adjust(keys, args)
  local u = unit(keys, args)
  local prev = idem_get(u)
  if prev == false then return err_reply(K.E_IDEM) end
  if prev and prev ~= 'K' and string.sub(prev, 1, 2) ~= 'K,' then return err_replay(prev) end
  local member, amount = args[8], tonumber(args[9])
  local w, a, ok
  if member ~= '' then
    w, a, ok = open_owner(u, member)
  else
    w, ok = open_ws(u, nil)
  end
  if not w then return err_reply(K.E_WS_NOT_FOUND) end
  if not ok then return {K.ROLL, w.anchor} end
  local g
  if prev then
    local gid = string.match(prev, '^K,(.*)$')
    if gid then g = grant_get(u, gid) end
  elseif a then
    if not a.exists then
      finish(u, w, a)
      return err_reply(K.E_MEMBER_NOT_FOUND)
    end
    if amount < 0 and -amount > max(avail_seat(a), 0) then
      finish(u, w, a)
      return err_record(u, K.E_ADJUST_EXCEEDS, max(avail_seat(a), 0))
    end
    a.s_alloc, a.alloc = a.s_alloc + amount, a.alloc + amount
    acct_touch(u, a)
    ledger(u, 'adjust', member, '', {'amount', amount, 'seat', amount, 'actor', args[10], 'reason', args[11]})
    idem_put(u, 'K')
  elseif amount > 0 then
    if w.p_granted + amount > K.MAX_POOL then
      finish(u, w, nil)
      return err_reply(K.E_LIMIT, K.LIMIT_POOL_GRANTED)
    end
    if pool_full(u) then
      finish(u, w, nil)
      return err_reply(K.E_LIMIT, K.LIMIT_POOL_GRANTS)
    end
    g = grant_add(u, w, tonumber(args[13]), amount, u.now, tonumber(args[12]), 0)
    ledger(u, 'adjust', '', '', {'amount', amount, 'grant', g.id, 'actor', args[10], 'reason', args[11]})
    idem_put(u, 'K,' .. g.id)
  else
    if -amount > w.p_avail then
      finish(u, w, nil)
      return err_record(u, K.E_ADJUST_EXCEEDS, w.p_avail)
    end
    local parts = pool_take(u, w, -amount, 'debit')
    ledger(u, 'adjust', '', '', {'amount', amount, 'grants', parts_encode(parts), 'actor', args[10],
      'reason', args[11]})
    idem_put(u, 'K')
  end
  finish(u, w, a)
  local out = {K.OK}
  if a then
    out[2] = 1
    put_balance(out, w, a)
  else
    out[2] = 0
  end
  put_workspace(out, w)
  if g then
    out[#out + 1] = 1
    return put_grant(out, u, g)
  end
  out[#out + 1] = 0
  return out
end
