-- fn_refund.lua: void a held reservation, its held children, and the
-- costs its committed descendants recorded under it; nothing is charged.
-- The hold returns to the nearest held ancestor of a child, or to the
-- sources: where it came from, except seat credits of an ended period and
-- credits of a grant that has ended, which are forfeited.
-- uses: core account pool hold
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..7] common; [8] reservation hex; [9] its price version; [10] the
-- operator who forces the refund and [11] their reason (both "" for the
-- orchestrator's Refund; the ledger entry keeps them); [12] the origin of
-- the id (its letter: another one is not found).
-- Reply: {OK, K.R..., K.B...} ({REPLAY, ...} for a request id met
-- before); {ERR, E_NOT_FOUND}; {ERR, E_TRANSITION, from, to}; {ERR, E_IDEM}; {ROLL, anchor}.
local function refund(keys, args)
  local u = unit(keys, args)
  preload_res(u, args[8])
  local prev = idem_get(u)
  if prev == false then return err_reply(K.E_IDEM) end
  local r = res_named(u, args[8], args[9], args[12])
  if not r then return err_reply(K.E_NOT_FOUND) end
  if prev and prev ~= 'K' then return err_replay(prev) end
  local w, a, ok = open_owner(u, r.owner)
  if not ok then return {K.ROLL, w.anchor} end
  if prev then
    finish(u, w, a)
    return reply_again(u, w, a, r)
  end
  if r.state == K.HELD and r.dl <= u.now then expire(u, w, a, r) end
  if r.state ~= K.HELD then
    finish(u, w, a)
    return err_record(u, K.E_TRANSITION, r.state, K.REFUNDED)
  end
  void_kids(u, w, a, r, K.REFUNDED)
  r.ktok, r.kact = 0, 0 -- a refund drops the costs recorded under it
  local q, released, forfeited = release(u, w, a, r, false)
  unindex(u, r)
  r.state, r.st, r.rel = K.REFUNDED, u.now, released
  touch(u, r)
  settled(u, r)
  ledger(u, 'refund', r.owner, res_id(r), {'released', released, 'forfeited', forfeited,
    'into', q and res_id(q) or '', 'actor', args[10] or '', 'reason', args[11] or ''})
  idem_put(u, 'K')
  finish(u, w, a)
  return reply_res(u, w, a, r)
end
