-- fn_reserve.lua: take a hold for a member or a programmatic spender, in
-- source order (seat, free, pool, overage) and within every cap; or, with
-- a parent, a child hold carved out of the parent's free hold (see
-- quota/run.go), topped up from the sources where allowed.
-- uses: core account pool hold
--
-- The reservation's key is the hex of its request id (args[7]), so the
-- record is also the Reserve's idempotency record: a retry finds it and
-- gets the reservation as it stands.
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..7] common (core.lua); [8] owner (a member id, K.SPENDER_MARK and a
-- spender id, or "" for a child: the parent's); [9] its numbers,
-- MessagePack integers one after the other (one cmsgpack.unpack, no
-- tonumber of text): origin, price version, amount and minimum
-- (µcredits; 0 and 0 for a free Sidekick run), deadline (ms), the run's
-- token cap (a root's; K.CAP_UNLIMITED: none) and the parent's price
-- version (0 for a root); [10] the deadline as text (for ZADD: no printf);
-- [11] parent hex ("" for a root); [12] top-up allowed (1/0).
-- Reply: {OK, K.R..., K.B...} ({REPLAY, ...} for a request id met
-- before); {ERR, E_DENIED, K.F...}; {ERR, code}
-- for E_PARENT_NOT_FOUND, E_PARENT_NOT_HELD, E_WS_NOT_FOUND, E_IDEM;
-- {ERR, E_INVALID, "owner"}; {ERR, E_LIMIT, limit}; {ROLL, anchor}.
local function reserve(keys, args)
  local u = unit(keys, args)
  local hex = u.rhex
  -- One read for what a root Reserve needs: its own key (a retry), the
  -- request's idempotency record, the workspace and the owner's account.
  local rkey, akey = u.pre .. 'res:' .. hex, nil
  local specs = {rkey, K.L_RES, u.kidem, false, u.kws, K.L_WS}
  if args[8] ~= '' then
    akey = u.pre .. 'acct:' .. args[8]
    specs[7], specs[8] = akey, K.L_ACCT
  end
  preload(u, specs)
  local r = res_get(u, hex)
  if r then
    if r.fp ~= u.fp then return err_reply(K.E_IDEM) end
    local w, a, ok = open_owner(u, r.owner)
    if not ok then return {K.ROLL, w.anchor} end
    finish(u, w, a)
    return reply_again(u, w, a, r)
  end
  local prev = idem_get(u, true)
  if prev == false then return err_reply(K.E_IDEM) end
  if prev then return err_replay(prev) end

  local owner = args[8]
  local origin, pv, want, least, dl, rcap, ppv = cmsgpack.unpack(args[9])
  local p, root
  if args[11] ~= '' then
    p = res_named(u, args[11], ppv, origin)
    if not p then
      return err_reply(K.E_PARENT_NOT_FOUND)
    end
    if owner ~= '' and owner ~= p.owner then return err_reply(K.E_INVALID, 'owner') end
    owner = p.owner
    -- Limits, before anything changes.
    if p.depth >= K.MAX_DEPTH then return err_reply(K.E_LIMIT, K.LIMIT_RUN_DEPTH) end
    root = res_root(u, p) or p
    if root.nres >= K.MAX_RUN_RES then return err_reply(K.E_LIMIT, K.LIMIT_RUN_RESERVATIONS) end
    if root.nheld >= K.MAX_RUN_HELD then return err_reply(K.E_LIMIT, K.LIMIT_RUN_HELD) end
  end
  local w, a, ok = open_owner(u, owner, owner == args[8] and akey or nil)
  if not w then return err_reply(K.E_WS_NOT_FOUND) end
  if not ok then return {K.ROLL, w.anchor} end

  r = {owner = owner, origin = origin, state = K.HELD, fp = u.fp, pv = pv, req = want,
    h_seat = 0, h_old = 0, h_free = 0, h_pool = 0, h_ov = 0, h_grants = '', h_ps = a.ps,
    dl = dl, ct = u.now, st = 0, ch = 0, chh = 0, c_seat = 0, c_free = 0,
    c_pool = 0, c_ov = 0, c_grants = '', rel = 0, sf = 0, parent = '', root = '', depth = 1,
    seq = 0, rec = 0, otok = 0, oact = 0, ktok = 0, kact = 0, stok = 0, sact = 0,
    rcap = rcap, rtok = 0, rtot = 0, nres = 1, nheld = 0, nag = 0, open = 0, nk = 0, cost = ''}
  r.hex = hex
  local carved = 0

  if p then
    if p.state ~= K.HELD then
      finish(u, w, a)
      return err_record(u, K.E_PARENT_NOT_HELD)
    end
    r.parent, r.depth, r.rcap, r.nres = p.hex, p.depth + 1, K.CAP_UNLIMITED, 0
    r.root = p.root
    if r.root == '' then r.root = p.hex end
    r.dl = min(r.dl, p.dl)
    local take, top = 0, 0
    if want > 0 then
      -- The run's token cap bounds what the child may ask for.
      local allow = min(want, run_cap_left(u, p))
      if allow < least or allow == 0 then
        finish(u, w, a)
        return deny(u, w, a, K.DENY_RUN_CAP, want, least, 0, allow)
      end
      normalize(u, a, p)
      local free = max(res_held(p) - p.ktok - p.kact, 0)
      take = min(allow, free)
      local function top_up()
        if take < allow and args[12] == '1' then return min(allow - take, (spendable(w, a))) end
        return 0
      end
      top = top_up()
      if take + top < least and u.more then
        catch_up(u, w, a)
        top = top_up()
      end
      if take + top < least then
        finish(u, w, a)
        if args[12] ~= '1' then return deny(u, w, a, K.DENY_PARENT_HOLD, want, least, free, 0) end
        return deny(u, w, a, K.DENY_SOURCES, want, least, free, 0)
      end
    end
    rec_new(u, rkey, K.L_RES, r)
    if take > 0 then carve(u, p, r, take) end
    carved = take
    if top > 0 then hold_add(u, r, draw(u, w, a, top, true)) end
    root.nres, root.nheld = root.nres + 1, root.nheld + 1
    r.seq = root.nres - 1
    touch(u, root)
    redis.call('ZADD', u.pre .. 'kids:' .. p.hex, r.seq, hex)
    p.nk = p.nk + 1
    touch(u, p)
    redis.call('ZADD', u.pre .. 'run:' .. r.root, r.seq, hex)
  else
    local avail = 0
    if want > 0 then
      avail = spendable(w, a)
      if avail < least and u.more then
        catch_up(u, w, a)
        avail = spendable(w, a)
      end
      if avail < least then
        finish(u, w, a)
        return deny(u, w, a, K.DENY_SOURCES, want, least, 0, 0)
      end
    end
    rec_new(u, rkey, K.L_RES, r)
    if want > 0 then hold_add(u, r, draw(u, w, a, min(want, avail), true)) end
  end
  -- The deadline as text, unless the parent's cut it.
  note_deadline(u, w, r, r.dl == dl and args[10] or r.dl)
  -- held: drawn from the sources; carved: moved from the parent's hold.
  ledger(u, 'reserve', owner, res_id(r), {'held', res_held(r) - carved, 'carved', carved,
    'seat', r.h_seat + r.h_old, 'free', r.h_free, 'pool', r.h_pool, 'grants', r.h_grants,
    'overage', r.h_ov, 'parent', pub(r, r.parent)})
  finish(u, w, a)
  return reply_res(u, w, a, r, nil, carved)
end
