-- fn_commit.lua: settle a reservation with the priced cost of its usage.
--
-- A child whose run still has a held ancestor records its cost there: its
-- hold returns to that ancestor and nothing is charged yet. Anything else
-- (a root, or a child that outlived every ancestor) is charged: its own
-- cost and the costs its committed descendants recorded under it, from
-- its hold first (in the order it was drawn), the rest of the hold
-- released, what the hold did not cover drawn from the sources in order
-- within every cap, and what no source can pay recorded as a shortfall.
-- Children still held are voided first. Never fails for lack of credits.
-- An expired reservation may still be committed. The run's totals are
-- counters on its root: the work is bounded by the reservation's held
-- children, never by the run's history. The same step queues what the
-- commit adds to its day's usage buckets (usage.lua).
-- uses: core account pool hold usage
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..7] common; [8] reservation hex; [9] its price version; [10] the
-- priced usage (Go's encoding); [11] the origin its id names (it was
-- priced with it: another origin than the reservation's is not found);
-- [12] Go's part of the commit's first usage entry (usage.lua): the UTC
-- day of now, the origin, its token and action credits, tokens and
-- actions, and its first groups by agent, model and tier, MessagePack
-- values one after the other; [13] its numbers, MessagePack integers one
-- after the other (one cmsgpack.unpack, no tonumber of text): its own
-- token credits and action credits (µcredits) and the agents of its usage
-- tree; [14...] its other usage entries (a commit with more than
-- schema.UsageEntryGroups groups).
-- Reply: {OK, K.R..., K.B...} ({REPLAY, ...} for a request id met
-- before); {ERR, E_NOT_FOUND}; {ERR, E_TRANSITION,
-- from, to}; {ERR, E_LIMIT, limit}; {ERR, E_IDEM}; {ROLL, anchor}.

local function commit(keys, args)
  local u = unit(keys, args)
  preload_res(u, args[8])
  local prev = idem_get(u)
  if prev == false then return err_reply(K.E_IDEM) end
  local r = res_named(u, args[8], args[9], args[11])
  if not r then return err_reply(K.E_NOT_FOUND) end
  if prev and prev ~= 'K' then return err_replay(prev) end
  local otok, oact, agents = cmsgpack.unpack(args[13])
  local own = otok + oact
  local root = res_root(u, r)
  if not prev and root and root ~= r and (r.state == K.HELD or r.state == K.EXPIRED) then
    -- Run limits, before anything changes: on what children record.
    -- The root's own Commit, which charges what they recorded, is never
    -- refused for them (its own usage is within the per-commit limits),
    -- so that a run at its limits can always be settled.
    if root.nag + agents > K.MAX_RUN_AGENTS then return err_reply(K.E_LIMIT, K.LIMIT_RUN_AGENTS) end
    if root.rtot + own > K.MAX_RUN_COST then return err_reply(K.E_LIMIT, K.LIMIT_RUN_COST) end
  end
  local w, a, ok = open_owner(u, r.owner)
  if not ok then return {K.ROLL, w.anchor} end
  if prev then
    finish(u, w, a)
    return reply_again(u, w, a, r)
  end
  if r.state == K.HELD and r.dl <= u.now then expire(u, w, a, r) end
  if r.state ~= K.HELD and r.state ~= K.EXPIRED then
    finish(u, w, a)
    return err_record(u, K.E_TRANSITION, r.state, K.COMMITTED)
  end

  local was_held = r.state == K.HELD
  void_kids(u, w, a, r, K.REFUNDED)
  if root then
    root.rtok, root.rtot, root.nag = root.rtok + otok, root.rtot + own, root.nag + agents
    touch(u, root)
  end
  r.otok, r.oact, r.cost, r.state, r.st = otok, oact, args[10], K.COMMITTED, u.now
  r.stok, r.sact = r.ktok, r.kact
  if was_held then unindex(u, r) end
  touch(u, r)

  local q = nearest_held(u, r)
  if q then
    local moved = merge(u, a, q, r, true)
    q.ktok, q.kact = q.ktok + otok, q.kact + oact
    r.rec = K.REC_RECORDED -- charged with its ancestor: its settlement amounts stay 0
    ledger(u, 'record', r.owner, res_id(r), {'cost', own, 'into', res_id(q), 'released', moved})
    local due = usage_push(u, r, 0, 0, args[12], args, 14)
    idem_put(u, 'K')
    finish(u, w, a)
    usage_fold_due(u, due)
    return reply_res(u, w, a, r)
  end

  local cost = own + r.ktok + r.kact
  local c, released, forfeited
  if was_held then
    c, released, forfeited = settle(u, w, a, r, cost)
    r.rel = released
  else
    c, released, forfeited = no_parts(), 0, 0
  end
  r.ktok, r.kact = 0, 0
  local from_hold = c.seat + c.free + c.pool + c.ov
  if cost > from_hold then
    local d = draw(u, w, a, cost - from_hold, false)
    if d.grants[1] and c.grants == NO_GRANTS then c.grants = {} end -- NO_GRANTS is shared: never added to
    for _, e in ipairs(d.grants) do parts_add(c.grants, e[1], e[2]) end
    c.seat, c.free, c.pool, c.ov = c.seat + d.seat, c.free + d.free, c.pool + d.pool, c.ov + d.ov
  end
  r.c_seat, r.c_free, r.c_pool = c.seat, c.free, c.pool
  r.c_grants, r.c_ov = parts_encode(c.grants), c.ov
  r.ch = c.seat + c.free + c.pool + c.ov
  r.chh, r.sf = from_hold, cost - r.ch
  settled(u, r)
  ledger(u, 'commit', r.owner, res_id(r), {'cost', cost, 'own', own, 'from_hold', from_hold,
    'seat', r.c_seat, 'free', r.c_free, 'pool', r.c_pool, 'grants', r.c_grants,
    'overage', r.c_ov, 'released', released, 'forfeited', forfeited, 'shortfall', r.sf})
  local due = usage_push(u, r, r.ch, r.sf, args[12], args, 14)
  idem_put(u, 'K')
  finish(u, w, a)
  usage_fold_due(u, due)
  return reply_res(u, w, a, r)
end
