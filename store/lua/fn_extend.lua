-- fn_extend.lua: raise a held reservation (all or nothing) and/or move its
-- deadline. A child is raised from its nearest held ancestor's free hold
-- first, then from the sources in order; its deadline never passes that
-- ancestor's. An increase is refused with a run-cap denial when the run's
-- recorded token credits, what its held children hold and the increase
-- would pass the run's cap.
-- uses: core account pool hold
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..7] common; [8] reservation hex; [9] its price version; [10]
-- µcredits to add (may be 0); [11] new deadline (ms; 0 keeps it); [12]
-- the origin of the id (its letter: another one is not found).
-- Reply: {OK, K.R..., K.B...} ({REPLAY, ...} for a request id met
-- before); {ERR, E_NOT_FOUND}; {ERR, E_TRANSITION, from, to}; {ERR, E_DENIED, K.F...}; {ERR, E_IDEM}; {ROLL, anchor}.
local function extend(keys, args)
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
    return err_record(u, K.E_TRANSITION, r.state, K.HELD)
  end

  local add, dl = tonumber(args[10]), tonumber(args[11])
  local q = nearest_held(u, r)
  local d = {seat = 0, free = 0, pool = 0, grants = {}, ov = 0}
  local carved = 0
  if add > 0 then
    local left = run_cap_left(u, r)
    if add > left then
      finish(u, w, a)
      return deny(u, w, a, K.DENY_RUN_CAP, add, add, 0, left)
    end
    normalize(u, a, r)
    local free = 0
    if q then
      normalize(u, a, q)
      free = max(res_held(q) - q.ktok - q.kact, 0)
    end
    carved = min(add, free)
    if carved + spendable(w, a) < add and u.more then catch_up(u, w, a) end
    if carved + spendable(w, a) < add then
      finish(u, w, a)
      return deny(u, w, a, K.DENY_SOURCES, add, add, free, 0)
    end
    if carved > 0 then carve(u, q, r, carved) end
    if add > carved then
      d = draw(u, w, a, add - carved, true)
      hold_add(u, r, d)
    end
    r.req = r.req + add
  end
  if dl > 0 then
    if q then dl = min(dl, q.dl) end
    r.dl = dl
    note_deadline(u, w, r, dl)
  end
  touch(u, r)
  ledger(u, 'extend', r.owner, res_id(r), {'held', d.seat + d.free + d.pool + d.ov,
    'carved', carved, 'seat', d.seat, 'free', d.free, 'pool', d.pool,
    'grants', parts_encode(d.grants), 'overage', d.ov, 'deadline', r.dl})
  idem_put(u, 'K')
  finish(u, w, a)
  return reply_res(u, w, a, r, nil, carved)
end
