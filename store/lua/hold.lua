-- hold.lua: reservations and their holds: the draw in source order,
-- settling and releasing a hold, runs (a root and its child reservations),
-- expiry, denials and the reservation reply.
--
-- Reservation: q:{ws:<id>}:res:<hex> (layout K.L_RES); hex is the key part
-- of its public id "<origin letter>_<hex>_<price version>" (quota/ids.go).
--   owner      a member id, or K.SPENDER_MARK and a spender id
--   origin, state, pv   origin, state and price version of the run
--   fp         fingerprint of the Reserve that made it (its idempotency
--              record: a retry finds the reservation by the request's hex)
--   req        amount asked for (raised by Extend)
--   h_seat     seat credits held, of the member's period starting at h_ps
--   h_old      seat credits held from an earlier period (forfeited if released)
--   h_free     free lifetime credits held
--   h_pool, h_grants   pool credits held, in all and per grant ("gid:amt;...")
--   h_ov       overage held
--   dl, ct, st deadline, creation and settle times (ms)
--   ch, chh    charged in all, of which from the hold
--   c_seat, c_free, c_pool, c_grants, c_ov   charged per source
--   rel, sf    released (or forfeited) at settlement; shortfall
--   parent, root   hex of the parent and of the run's root ("" for a root)
--   depth, seq     1 for a root, its parent's + 1 for a child; place in
--                  the run (0 for the root, then 1, 2, ... as reserved)
--   rec        K.REC_RECORDED: a committed child whose cost was recorded
--              under an ancestor; K.REC_VOIDED: a child voided into an
--              ancestor, the costs its subtree recorded kept there
--   otok, oact its own token and action credits, once committed
--   ktok, kact costs recorded under it by committed descendants and not
--              charged yet (charged with it, or passed up when it ends)
--   stok, sact what its descendants had recorded when it was committed
--   rcap, rtok on a root: the run's token cap (K.CAP_UNLIMITED: none) and
--              the token credits the run recorded so far
--   rtot, nres, nheld, nag   on a root: the cost the run recorded so
--              far, its reservations, its held children and its agents
--              (run limits)
--   open       on a root: what the run's held children hold (token cap)
--   nk         how many of its children are held (kids:<hex> holds them)
--   cost       its priced usage tree, once committed (Go's encoding)
--
-- Indexes (zsets under the workspace prefix):
--   deadlines      every held reservation, by deadline
--   kids:<hex>     a reservation's held children, by seq
--   run:<roothex>  every child of a run, by seq (paging, retention)
--   settled        every settled root, by settle time (retention)

local function res_get(u, hex)
  if not hex or hex == '' then return nil end
  local r = rec(u, u.pre .. 'res:' .. hex, K.L_RES)
  if r then r.hex = hex end
  return r
end

-- res_named returns the reservation a public id names, nil unless its
-- key part, price version and origin (as passed, strings) are all the
-- record's: an id with another origin letter or version is not found.
local function res_named(u, hex, pv, origin)
  local r = res_get(u, hex)
  if r and r.pv == tonumber(pv) and r.origin == tonumber(origin) then return r end
  return nil
end

local function is_root(r) return r.root == '' end

local function res_root(u, r)
  if is_root(r) then return r end
  return res_get(u, r.root)
end

-- pub is the public id of the reservation with key hex in r's run.
local function pub(r, hex)
  if hex == '' then return '' end
  return K.ORIGIN_LETTER[r.origin] .. '_' .. hex .. '_' .. fmt(r.pv)
end

-- res_id is r's public id, built once per call.
local function res_id(r)
  local id = r._id
  if not id then
    id = pub(r, r.hex)
    r._id = id
  end
  return id
end

-- preload_res reads, in one MGET, what a call on the reservation with key
-- hex starts from: it, the request's idempotency records (and the
-- reservation a Reserve with this request id would have made) and the
-- workspace; open_owner then reads the account.
local function preload_res(u, hex)
  preload(u, {u.pre .. 'res:' .. hex, K.L_RES, u.kidem, false, u.pre .. 'res:' .. u.rhex, false,
    u.kws, K.L_WS})
end

local function res_held(r) return r.h_seat + r.h_old + r.h_free + r.h_pool + r.h_ov end

-- Grant amounts of a hold are kept as "gid:amount;gid:amount", in draw
-- order.
local function parts_decode(s)
  local t = {}
  if s == '' then return t end
  for id, amt in string.gmatch(s, '([^;:]+):(%d+)') do
    t[#t + 1] = {id, tonumber(amt)}
  end
  return t
end

local function parts_encode(t)
  local out = {}
  for _, e in ipairs(t) do
    if e[2] > 0 then out[#out + 1] = e[1] .. ':' .. fmt(e[2]) end
  end
  return table.concat(out, ';')
end

-- parts_add adds amount to a grant's entry, keeping the draw order.
local function parts_add(t, id, amount)
  for _, e in ipairs(t) do
    if e[1] == id then
      e[2] = e[2] + amount
      return
    end
  end
  t[#t + 1] = {id, amount}
end

-- run_open adds delta to what the run's held children hold, on its root,
-- when the hold of r, a child, changes to or from the root or the
-- sources.
local function run_open(u, r, delta)
  if delta == 0 or is_root(r) then return end
  local root = res_root(u, r)
  if root then
    root.open = root.open + delta
    touch(u, root)
  end
end

-- normalize moves a hold's seat credits of an ended member period to
-- h_old (forfeited if released). Pool and overage need nothing: the held
-- counters carry over resets, so an open hold counts against the caps of
-- whichever period it is in.
local function normalize(u, a, r)
  if r.h_ps ~= a.ps then
    r.h_old, r.h_seat = r.h_old + r.h_seat, 0
    r.h_ps = a.ps
    touch(u, r)
  end
end

-- NO_GRANTS is the grants of a draw that took none from the pool: read
-- only, shared (whoever adds a grant makes a table of its own first).
local NO_GRANTS = {}

-- no_parts returns µcredits per source, none yet: what draw returns, and
-- what settle charges, {seat, free, pool, grants, ov}.
local function no_parts()
  return {seat = 0, free = 0, pool = 0, grants = NO_GRANTS, ov = 0}
end

-- draw takes up to want from the sources in order (seat, free, pool,
-- overage), as holds (hold = true) or as spending, within every cap.
-- Returns the parts: {seat, free, pool, grants, ov}.
local function draw(u, w, a, want, hold)
  local d = no_parts()
  local left = want
  if a.exists then
    d.seat = min(left, max(avail_seat(a), 0))
    d.free = min(left - d.seat, max(avail_free(a), 0))
    left = left - d.seat - d.free
    if hold then
      a.s_held, a.f_held = a.s_held + d.seat, a.f_held + d.free
      a.held = a.held + d.seat + d.free
    else
      a.s_spent, a.f_spent = a.s_spent + d.seat, a.f_spent + d.free
      a.spent = a.spent + d.seat + d.free
    end
    touch(u, a)
  end
  local plim = min(left, min(pool_limit(w, a), w.p_avail))
  if plim > 0 then
    d.grants, d.pool = pool_take(u, w, plim, hold and 'hold' or 'spend')
    left = left - d.pool
  end
  local olim = min(left, overage_limit(w, a))
  if a.prog then olim = min(olim, prog_left(w) - d.pool) end
  d.ov = max(olim, 0)
  if d.pool + d.ov > 0 then
    if hold then
      w.p_held, w.ov_held = w.p_held + d.pool, w.ov_held + d.ov
      if a.prog then w.prog_held = w.prog_held + d.pool + d.ov else a.p_held = a.p_held + d.pool end
    else
      w.p_spent, w.ov_used = w.p_spent + d.pool, w.ov_used + d.ov
      if a.prog then w.prog_used = w.prog_used + d.pool + d.ov else a.p_used = a.p_used + d.pool end
    end
    touch(u, w)
    acct_touch(u, a)
  end
  return d
end

-- hold_add adds the parts d drawn as holds to r's hold.
local function hold_add(u, r, d)
  if d.grants[1] then
    local grants = parts_decode(r.h_grants)
    for _, e in ipairs(d.grants) do parts_add(grants, e[1], e[2]) end
    r.h_grants = parts_encode(grants)
  end
  r.h_seat, r.h_free, r.h_pool = r.h_seat + d.seat, r.h_free + d.free, r.h_pool + d.pool
  r.h_ov = r.h_ov + d.ov
  touch(u, r)
  run_open(u, r, d.seat + d.free + d.pool + d.ov)
end

-- settle charges used µcredits from r's hold, in the order it was drawn
-- (earlier-period seat credits, seat, free, pool grants, overage), and
-- releases the rest: back where it came from, or forfeited for seat
-- credits of an ended period and grants that have ended. It empties the
-- hold and returns the charge per source ({seat, free, pool, grants, ov};
-- grants is the shared, read-only NO_GRANTS when no pool credit was
-- held), what was released and what of that was forfeited.
local function settle(u, w, a, r, used)
  normalize(u, a, r)
  local c = no_parts()
  local held = res_held(r)
  -- Each source in turn takes what it can of what is left to charge.
  local left = used
  local u_old = min(left, r.h_old)
  left = left - u_old
  local u_seat = min(left, r.h_seat)
  left = left - u_seat
  local u_free = min(left, r.h_free)
  left = left - u_free
  c.seat, c.free = u_old + u_seat, u_free
  local forfeited = r.h_old - u_old
  if r.h_old + r.h_seat + r.h_free > 0 then
    a.s_held, a.s_spent = a.s_held - r.h_seat, a.s_spent + u_seat
    a.f_held, a.f_spent = a.f_held - r.h_free, a.f_spent + u_free
    a.held = a.held - r.h_old - r.h_seat - r.h_free
    a.spent = a.spent + u_old + u_seat + u_free
    a.forf = a.forf + forfeited
    acct_touch(u, a)
  end
  if r.h_pool + r.h_ov > 0 then
    c.grants = {}
    for _, e in ipairs(parts_decode(r.h_grants)) do
      local x = min(left, e[2])
      left = left - x
      forfeited = forfeited + pool_settle(u, w, e[1], e[2], x)
      c.pool = c.pool + x
      if x > 0 then c.grants[#c.grants + 1] = {e[1], x} end
    end
    w.p_held, w.p_spent = w.p_held - r.h_pool, w.p_spent + c.pool
    c.ov = min(left, r.h_ov)
    left = left - c.ov
    w.ov_held, w.ov_used = w.ov_held - r.h_ov, w.ov_used + c.ov
    if a.prog then
      w.prog_held = w.prog_held - r.h_pool - r.h_ov
      w.prog_used = w.prog_used + c.pool + c.ov
    else
      a.p_held, a.p_used = a.p_held - r.h_pool, a.p_used + c.pool
      acct_touch(u, a)
    end
    touch(u, w)
  end
  local released = held - used + left
  r.h_seat, r.h_old, r.h_free, r.h_pool, r.h_grants, r.h_ov = 0, 0, 0, 0, '', 0
  touch(u, r)
  run_open(u, r, -held)
  return c, released, forfeited
end

-- merge moves what r holds into q (both of account a; the account's
-- counters do not change: the credits stay held) and, with costs, the
-- costs r's subtree recorded. Returns what moved.
local function merge(u, a, q, r, costs)
  normalize(u, a, q)
  normalize(u, a, r)
  local moved = res_held(r)
  q.h_old, q.h_seat, q.h_free = q.h_old + r.h_old, q.h_seat + r.h_seat, q.h_free + r.h_free
  if r.h_pool > 0 then
    local grants = parts_decode(q.h_grants)
    for _, e in ipairs(parts_decode(r.h_grants)) do parts_add(grants, e[1], e[2]) end
    q.h_grants = parts_encode(grants)
  end
  q.h_pool, q.h_ov = q.h_pool + r.h_pool, q.h_ov + r.h_ov
  if costs then q.ktok, q.kact = q.ktok + r.ktok, q.kact + r.kact end
  r.h_seat, r.h_old, r.h_free, r.h_pool, r.h_grants, r.h_ov, r.ktok, r.kact = 0, 0, 0, 0, '', 0, 0, 0
  touch(u, q)
  touch(u, r)
  if is_root(q) then run_open(u, r, -moved) end
  return moved
end

-- carve moves up to amount of p's hold to its child c, in p's draw order.
local function carve(u, p, c, amount)
  local left = amount
  local function take(x)
    local t = min(left, x)
    left = left - t
    return t
  end
  local t = take(p.h_old)
  p.h_old, c.h_old = p.h_old - t, c.h_old + t
  t = take(p.h_seat)
  p.h_seat, c.h_seat = p.h_seat - t, c.h_seat + t
  t = take(p.h_free)
  p.h_free, c.h_free = p.h_free - t, c.h_free + t
  if left > 0 and p.h_pool > 0 then
    local pg, cg = parts_decode(p.h_grants), parts_decode(c.h_grants)
    for _, e in ipairs(pg) do
      t = take(e[2])
      if t > 0 then
        e[2] = e[2] - t
        parts_add(cg, e[1], t)
        p.h_pool, c.h_pool = p.h_pool - t, c.h_pool + t
      end
    end
    p.h_grants, c.h_grants = parts_encode(pg), parts_encode(cg)
  end
  t = take(p.h_ov)
  p.h_ov, c.h_ov = p.h_ov - t, c.h_ov + t
  touch(u, p)
  touch(u, c)
  if is_root(p) then run_open(u, c, amount - left) end
end

-- nearest_held returns r's nearest ancestor that is still held, or nil
-- (at most K.MAX_DEPTH reads).
local function nearest_held(u, r)
  local q = res_get(u, r.parent)
  while q do
    if q.state == K.HELD then return q end
    q = res_get(u, q.parent)
  end
  return nil
end

-- unindex removes a reservation that leaves HELD from the indexes of
-- held reservations; settled records a root's settlement for retention.
local function unindex(u, r)
  redis.call('ZREM', u.pre .. 'deadlines', r.hex)
  if r.parent == '' then return end
  redis.call('ZREM', u.pre .. 'kids:' .. r.parent, r.hex)
  local p = res_get(u, r.parent)
  if p and p.nk > 0 then
    p.nk = p.nk - 1
    touch(u, p)
  end
  local root = res_root(u, r)
  if root and root.nheld > 0 then
    root.nheld = root.nheld - 1
    touch(u, root)
  end
end

local function settled(u, r)
  if not is_root(r) then return end
  local st = r.st
  if st == u.now then st = u.nows end
  redis.call('ZADD', u.pre .. 'settled', st, r.hex)
end

-- void_kids voids r's held children, and theirs, into r: their holds and
-- recorded costs move to r, and they end in state, settled at st (ms;
-- nil: now). Bounded by the run's
-- held reservations (K.MAX_RUN_RES); one ledger entry says how many were
-- voided into r and what they held (no balance changes: the credits stay
-- held, by r).
local function void_kids(u, w, a, r, state, st)
  if r.nk == 0 then return end
  st = st or u.now
  local done, count, moved = {}, 0, 0
  local function void(q)
    if q.nk == 0 then return end
    local ids = redis.call('ZRANGE', u.pre .. 'kids:' .. q.hex, 0, -1)
    for i = 1, #ids, 256 do -- one MGET per 256 children
      local specs = {}
      for j = i, math.min(i + 255, #ids) do
        specs[#specs + 1] = u.pre .. 'res:' .. ids[j]
        specs[#specs + 1] = K.L_RES
      end
      preload(u, specs)
    end
    for _, id in ipairs(ids) do
      local k = res_get(u, id)
      if k and k.state == K.HELD then
        void(k)
        local m = merge(u, a, r, k, true)
        k.state, k.st, k.rel, k.rec = state, st, m, K.REC_VOIDED
        touch(u, k)
        done[#done + 1] = id
        count, moved = count + 1, moved + m
      end
    end
    redis.call('DEL', u.pre .. 'kids:' .. q.hex)
    q.nk = 0
    touch(u, q)
  end
  void(r)
  if count > 0 then
    local root = res_root(u, r)
    if root then
      root.nheld = max(root.nheld - count, 0)
      touch(u, root)
    end
    for i = 1, #done, 500 do
      redis.call('ZREM', u.pre .. 'deadlines', unpack(done, i, math.min(i + 499, #done)))
    end
    ledger(u, 'void', r.owner, res_id(r), {'count', count, 'released', moved})
  end
end

-- release ends r's hold: into its nearest held ancestor (with the costs
-- its subtree recorded, when costs), or back to the sources. Returns the
-- ancestor (or nil), what was released and what of that was forfeited.
local function release(u, w, a, r, costs)
  local q = nearest_held(u, r)
  if q then
    if not costs then r.ktok, r.kact = 0, 0 end
    return q, merge(u, a, q, r, costs), 0
  end
  local _, released, forfeited = settle(u, w, a, r, 0)
  return nil, released, forfeited
end

-- expire releases a held reservation whose deadline has passed, and its
-- held children. It returns what was released and forfeited.
local function expire(u, w, a, r)
  void_kids(u, w, a, r, K.EXPIRED, r.dl) -- they expire with it, at its deadline
  local q, released, forfeited = release(u, w, a, r, true)
  r.state, r.st, r.rel = K.EXPIRED, r.dl, released
  touch(u, r)
  unindex(u, r)
  settled(u, r)
  ledger(u, 'expire', r.owner, res_id(r), {'released', released, 'forfeited', forfeited,
    'into', q and res_id(q) or ''})
  return released, forfeited
end

-- expire_due releases holds of the workspace whose deadline is <= now,
-- oldest first, whoever holds them (they may hold pool, overage and
-- programmatic credits that everyone draws on), up to limit reservations
-- in all: a hold's held descendants, voided with it, count too. The
-- sweeper (sweeping) releases one hold a call at least, whatever its
-- descendants (up to K.MAX_RUN_HELD); other calls skip a hold that would
-- pass their limit, leaving it to the sweeper (within -sweep-interval),
-- and go on with those due after it. a, when given, is the account the
-- call works on. Returns how many holds it released, whether more may be
-- due, the credits they held, the oldest deadline met, and the credits
-- they held by origin and what of them was forfeited (in u.expired,
-- u.forfeited).
local function expire_due(u, w, a, limit, sweeping)
  if w.d_next > u.now then return 0, false, 0, 0 end
  local key = u.pre .. 'deadlines'
  local ids = redis.call('ZRANGEBYSCORE', key, '-inf', u.nows, 'LIMIT', '0', fmt(limit))
  local n, credits, oldest, work, stopped = 0, 0, 0, 0, false
  for _, id in ipairs(ids) do
    local r = res_get(u, id)
    -- What releasing r takes: r and the held reservations it voids, its
    -- whole held subtree (for a child with held children, at most the
    -- run's held children: its root counts them).
    local cost = 1
    if r and r.state == K.HELD then
      if is_root(r) then
        cost = 1 + r.nheld
      elseif r.nk > 0 then
        local root = res_root(u, r)
        cost = 1 + (root and root.nheld or r.nk)
      end
    end
    if cost > 1 and work + cost > limit and (work > 0 or not sweeping) then
      stopped = true -- left for a later call (or the sweeper); the next ones may fit
    elseif r and r.state == K.HELD then
      work = work + cost
      local owner = a
      if not owner or owner.member ~= r.owner then owner = acct_get(u, r.owner) end
      if oldest == 0 then oldest = r.dl end
      local held = res_held(r)
      credits = credits + held
      local _, forfeited = expire(u, w, owner, r)
      if u.expired then
        u.expired[r.origin] = (u.expired[r.origin] or 0) + held
        u.forfeited = u.forfeited + forfeited
      end
      n = n + 1
    else
      redis.call('ZREM', key, id)
    end
  end
  if not stopped and #ids < limit then
    -- Nothing more is due: the next deadline is the hint.
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    w.d_next = tonumber(first[2]) or K.UNLIMITED
    touch(u, w)
  end
  return n, stopped or #ids == limit, credits, oldest
end

-- note_deadline indexes a held reservation's deadline (dl: a number, or
-- the string it came in as) and keeps the workspace's hint below it.
local function note_deadline(u, w, r, dl)
  redis.call('ZADD', u.pre .. 'deadlines', dl, r.hex)
  if r.dl < w.d_next then
    w.d_next = r.dl
    touch(u, w)
  end
end

-- deny refuses a hold: it records and returns what the call saw (layout
-- K.F); Go decides the reason (quota.Deny).
local function deny(u, w, a, kind, want, least, parent_free, run_left)
  local total, own = spendable(w, a)
  local f, I = {}, K.iF
  f[I.kind] = kind
  f[I.owner] = a.member
  f[I.rank] = a.seat
  f[I.want] = want
  f[I.least] = least
  f[I.spendable] = total
  f[I.own] = own
  f[I.pool_avail] = w.p_avail
  f[I.pcap_set] = pool_cap(w, a) >= 0 and 1 or 0
  f[I.pool_left] = pool_limit(w, a)
  f[I.ov_left] = overage_limit(w, a)
  f[I.prog_set] = w.prog_cap >= 0 and 1 or 0
  f[I.prog_left] = prog_left(w)
  f[I.parent_free] = parent_free
  f[I.run_left] = run_left
  return err_record(u, K.E_DENIED, unpack(f))
end

-- run_cap_left is what r's run token cap still allows (K.UNLIMITED
-- without a cap): the cap less the token credits recorded and what the
-- run's held children hold.
local function run_cap_left(u, r)
  local root = res_root(u, r)
  if not root or root.rcap < 0 then return K.UNLIMITED end
  return max(root.rcap - root.rtok - root.open, 0)
end

-- res_vals returns a reservation (layout K.R), in order: as stored, and
-- what it derives; carved is what a child's Reserve or Extend moved from
-- an ancestor's hold (nil: 0).
local function res_vals(u, r, carved)
  local root = res_root(u, r) or r
  local roothex = r.root
  if roothex == '' then roothex = r.hex end
  local tok, act = r.otok + r.stok, r.oact + r.sact
  local id = res_id(r)
  local root_id = id
  if roothex ~= r.hex then root_id = pub(r, roothex) end
  return rec_raw(r), id, res_held(r), r.h_seat + r.h_old, pub(r, r.parent), root_id,
    root.rcap, root.rtok, root.nres, tok, act, tok + act, r.stok + r.sact, carved or 0
end

-- put_res appends a reservation (layout K.R) to out.
local function put_res(out, u, r)
  return append(out, res_vals(u, r))
end

-- open_ws loads the workspace and brings it up to date: its period (ok
-- false, nothing changed, when the new period must be passed), due grant
-- transitions and expired holds.
local function open_ws(u, a)
  local w = ws_get(u)
  if not w then return nil, false end
  if not ready(u, w, a) then return w, false end
  pool_tick(u, w, K.GRANT_STEPS)
  local _, more = expire_due(u, w, a, K.EXPIRE_PER_CALL)
  u.more = more
  return w, true
end

-- open_owner opens the workspace and the owner's account (see open_ws);
-- key, when the caller built it already, is the account's key. Both
-- records read already (a Reserve's first read has them): no read, and no
-- table for one.
local function open_owner(u, owner, key)
  key = key or u.pre .. 'acct:' .. owner
  if u.recs[key] == nil or u.recs[u.kws] == nil then
    preload(u, {u.kws, K.L_WS, key, K.L_ACCT})
  end
  if not ws_get(u) then return nil, nil, false end
  local a = acct_get(u, owner, key)
  local w, ok = open_ws(u, a)
  return w, a, ok
end

-- catch_up releases more expired holds before a denial or a read, when
-- the per-call bound left some due.
local function catch_up(u, w, a)
  if u.more then
    local _, more = expire_due(u, w, a, K.EXPIRE_MORE)
    u.more = more
  end
end

-- finish releases the rest of the holds that were due when the per-call
-- bound left some (so that no expired hold shows in a reply's balance),
-- appends the low-balance events and writes back every record.
local function finish(u, w, a)
  catch_up(u, w, a)
  events(u, w, a)
  flush(u)
end

-- reply_res is the reply of a reservation call, packed: the reservation
-- and the owner's account (layouts K.R, K.B). status is K.PACKED, or
-- K.PACKED_REPLAY (reply_again); carved: see res_vals. (carved is passed
-- down rather than kept in u: one more key would outgrow the unit's
-- 16-slot table and cost a rehash, ~4k instructions.)
local function reply_res(u, w, a, r, status, carved)
  return packed(status or K.PACKED, cmsgpack.pack(res_vals(u, r, carved)), cmsgpack.pack(bal_vals(w, a)))
end

-- reply_again is reply_res for a request id met before: the call changed
-- nothing and answers its first outcome again.
local function reply_again(u, w, a, r)
  return reply_res(u, w, a, r, K.PACKED_REPLAY)
end
