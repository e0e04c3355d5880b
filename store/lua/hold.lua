-- hold.lua: pool grants, reservations, the draw in source order, settling
-- and releasing holds, denials, low-balance events and replies. Prepended
-- to every script after lib.lua.

-- Grant: a hash at PREFIX..'grant:'..id; live grants (not expired, not
-- voided) are in the zset PREFIX..'grants', every grant in 'grants_all',
-- both scored by creation order (seq).
--   kind, amount, start, exp, prio, seq, ct, state
--   held, spent, forf     amount = available + held + spent + forf
local GRANT_NUMS = {'kind', 'amount', 'start', 'exp', 'prio', 'seq', 'ct', 'state',
  'held', 'spent', 'forf'}
-- Grant states (quota.GrantState; pending is derived from start).
local G_ACTIVE, G_EXPIRED, G_VOIDED = 1, 3, 4
local GRANTS = PREFIX .. 'grants'
local GRANTS_ALL = PREFIX .. 'grants_all'

local function grant_key(id) return PREFIX .. 'grant:' .. id end
local function grant_avail(g) return g.amount - g.held - g.spent - g.forf end

-- The grants met by this script, by id; pool_save writes the changed ones.
local grants = {}

local function grant_get(id)
  local g = grants[id]
  if not g then
    local ok
    g, ok = hload(grant_key(id), GRANT_NUMS)
    if not ok then return nil end
    g.id = id
    grants[id] = g
  end
  return g
end

-- grant_end ends a live grant (expired or voided): what is left is
-- forfeited now; what is held is forfeited when released.
local function grant_end(w, g, state)
  local rest = grant_avail(g)
  g.forf, g.state, g.dirty = g.forf + rest, state, true
  w.p_forf = w.p_forf + rest
  redis.call('ZREM', GRANTS, g.id)
  local op = 'grant_expire'
  if state == G_VOIDED then op = 'grant_void' end
  ledger(op, '', '', {'grant', g.id, 'forfeited', rest})
end

-- pool_load expires the live grants past their expiry and returns the pool
-- as of now: the drawable grants in draw order (priority, highest first;
-- then earliest expiry; then oldest), what they have left, what they
-- granted, and what pending grants (start in the future) have left.
local function pool_load(w)
  local p = {drawable = {}, avail = 0, granted = 0, pending = 0}
  for _, id in ipairs(redis.call('ZRANGE', GRANTS, 0, -1)) do
    local g = grant_get(id)
    if g.exp <= NOW then
      grant_end(w, g, G_EXPIRED)
    elseif g.start <= NOW then
      p.drawable[#p.drawable + 1] = g
      p.avail = p.avail + grant_avail(g)
      p.granted = p.granted + g.amount
    else
      p.pending = p.pending + grant_avail(g)
    end
  end
  table.sort(p.drawable, function(x, y)
    if x.prio ~= y.prio then return x.prio > y.prio end
    if x.exp ~= y.exp then return x.exp < y.exp end
    return x.seq < y.seq
  end)
  return p
end

local GRANT_FIELDS = {'id', 'kind', 'amount', 'start', 'exp', 'prio', 'seq', 'ct', 'state',
  'held', 'spent', 'forf'}

local function pool_save()
  for id, g in pairs(grants) do
    if g.dirty then hsave(grant_key(id), g, GRANT_FIELDS) end
  end
end

-- The limits on what an account may draw from the pool and overage now.
local function prog_left(w)
  if w.prog_cap < 0 then return UNLIMITED end
  return max(w.prog_cap - w.prog_used - w.prog_held, 0)
end

-- pool_cap is the member's cap per period (-1: unlimited).
local function pool_cap(w, a)
  if a.pcap ~= -2 then return a.pcap end
  return w.pcap
end

-- Free seats (and members without a seat) never draw from the pool or
-- overage; programmatic spenders draw within the programmatic cap.
local function pool_limit(w, a)
  if a.prog then return prog_left(w) end
  if a.seat < 2 then return 0 end
  local cap = pool_cap(w, a)
  if cap < 0 then return UNLIMITED end
  return max(cap - a.p_used - a.p_held, 0)
end

local function overage_limit(w, a)
  if w.ov_on ~= 1 or (not a.prog and a.seat < 2) then return 0 end
  return max(w.ov_cap - w.ov_used - w.ov_held, 0)
end

-- spendable is what the account could hold now, per source.
local function spendable(w, a, p)
  local own = 0
  if a.exists then own = avail_own(a) end
  local pool = min(p.avail, pool_limit(w, a))
  local ov = overage_limit(w, a)
  if a.prog then ov = min(ov, prog_left(w) - pool) end
  return own + pool + ov, own, pool, ov
end

-- Grant amounts of a hold are kept as "id:amount;id:amount", in draw order.
local function parts_decode(s)
  local t = {}
  for id, amt in string.gmatch(s or '', '([^;:]+):(%d+)') do
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

-- Reservation: a hash at PREFIX..'res:'..id.
--   member     the owner: a member id, or "~" and a spender id
--   origin, state, rq (reserving request id), cost (JSON, committed)
--   req        amount asked for (raised by Extend)
--   h_seat     seat credits held, of the member's period starting at h_ps
--   h_old      seat credits held from an earlier period (forfeited if released)
--   h_free     free lifetime credits held
--   h_pool, h_grants   pool credits held, in all and per grant
--   h_ov       overage held, of the workspace period starting at h_wps
--   dl, ct, st deadline, creation and settle times (ms)
--   ch, chh    charged in all, of which from the hold
--   c_seat, c_free, c_pool, c_grants, c_ov   charged per source
--   rel, sf    released (or forfeited) at settlement; shortfall
--   parent, root   the parent ("" for a root) and the run's root ("" is
--                  read as the reservation itself)
--   depth      1 for a root, its parent's + 1 for a child
--   oc         the reservation's own priced cost, once committed
--   kc         costs recorded under it by committed descendants, not yet
--              charged (charged with the root's commit)
--   rec        1: a committed child whose cost was recorded under an
--              ancestor; 2: a child voided into an ancestor, the costs its
--              subtree recorded kept there
--   rcap, rtok on a root: the run's token cap (-1: none) and the token
--              credits the run recorded so far
local RES_NUMS = {'origin', 'state', 'req', 'h_seat', 'h_old', 'h_free', 'h_pool', 'h_ov',
  'h_ps', 'h_wps', 'dl', 'ct', 'st', 'ch', 'chh', 'c_seat', 'c_free', 'c_pool', 'c_ov',
  'rel', 'sf', 'depth', 'oc', 'kc', 'rec', 'rcap', 'rtok'}
local RES_FIELDS = {'member', 'rq', 'cost', 'h_grants', 'c_grants', 'parent', 'root', 'origin',
  'state', 'req', 'h_seat', 'h_old', 'h_free', 'h_pool', 'h_ov', 'h_ps', 'h_wps', 'dl', 'ct',
  'st', 'ch', 'chh', 'c_seat', 'c_free', 'c_pool', 'c_ov', 'rel', 'sf', 'depth', 'oc', 'kc',
  'rec', 'rcap', 'rtok'}

-- The deepest run: a root and 15 generations of children (quota.MaxDepth).
local MAX_DEPTH = 16

local function res_key(id) return PREFIX .. 'res:' .. id end
-- kids:<id> is a zset of a reservation's children, scored by creation order.
local function kids_key(id) return PREFIX .. 'kids:' .. id end

-- The reservations met by this script, by id, so that the records of one
-- run stay coherent while the script changes several of them.
local resv = {}

local function res_load(id)
  local r = resv[id]
  if r then return r, r.found end
  r = hload(res_key(id), RES_NUMS)
  r.id, r.found = id, r.member ~= nil
  if r.found and r.root == '' then r.root = id end
  if r.found and r.depth == 0 then r.depth = 1 end
  resv[id] = r
  return r, r.found
end

local function res_save(r)
  hsave(res_key(r.id), r, RES_FIELDS)
end

local function res_held(r) return r.h_seat + r.h_old + r.h_free + r.h_pool + r.h_ov end

-- normalize moves a hold's seat credits of an ended member period to h_old
-- (forfeited if released). Its pool and overage amounts need nothing: the
-- held counters carry over resets, so an open hold counts against the
-- caps of whichever period it is in.
local function normalize(a, r)
  if r.h_ps ~= a.ps then
    r.h_old, r.h_seat = r.h_old + r.h_seat, 0
    r.h_ps = a.ps
  end
end

-- draw takes up to want from the sources in order (seat, free, pool,
-- overage), as holds (hold = true) or as spending, within every cap.
-- Returns the parts: seat, free, pool (total), grants ({id, amount} in
-- draw order), ov.
local function draw(w, a, p, want, hold)
  local d = {seat = 0, free = 0, pool = 0, grants = {}, ov = 0}
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
  end
  local plim = min(left, pool_limit(w, a))
  for _, g in ipairs(p.drawable) do
    if plim <= 0 then break end
    local t = min(plim, grant_avail(g))
    if t > 0 then
      d.grants[#d.grants + 1] = {g.id, t}
      d.pool, plim, g.dirty = d.pool + t, plim - t, true
      if hold then g.held = g.held + t else g.spent = g.spent + t end
    end
  end
  p.avail = p.avail - d.pool
  left = left - d.pool
  local olim = min(left, overage_limit(w, a))
  if a.prog then olim = min(olim, prog_left(w) - d.pool) end
  d.ov = max(olim, 0)
  if hold then
    w.p_held, w.ov_held = w.p_held + d.pool, w.ov_held + d.ov
    if a.prog then w.prog_held = w.prog_held + d.pool + d.ov else a.p_held = a.p_held + d.pool end
  else
    w.p_spent, w.ov_used = w.p_spent + d.pool, w.ov_used + d.ov
    if a.prog then w.prog_used = w.prog_used + d.pool + d.ov else a.p_used = a.p_used + d.pool end
  end
  return d
end

-- settle charges used µcredits from a hold, in the order it was drawn
-- (earlier-period seat credits, seat, free, pool grants, overage), and
-- releases the rest: back where it came from, or forfeited for seat
-- credits of an ended period and grants that have ended. It empties the
-- hold and returns the charge per source ({seat, free, pool, grants, ov}),
-- what was released and what of that was forfeited.
local function settle(w, a, r, used)
  normalize(a, r)
  local c = {seat = 0, free = 0, pool = 0, grants = {}, ov = 0}
  local left = used
  local function take(held)
    local u = min(left, held)
    left = left - u
    return u
  end
  local u_old, u_seat, u_free = take(r.h_old), take(r.h_seat), take(r.h_free)
  c.seat, c.free = u_old + u_seat, u_free
  local forfeited = r.h_old - u_old
  a.s_held, a.s_spent = a.s_held - r.h_seat, a.s_spent + u_seat
  a.f_held, a.f_spent = a.f_held - r.h_free, a.f_spent + u_free
  a.held = a.held - r.h_old - r.h_seat - r.h_free
  a.spent = a.spent + u_old + u_seat + u_free
  a.forf = a.forf + forfeited
  for _, e in ipairs(parts_decode(r.h_grants)) do
    local id, amt = e[1], e[2]
    local u = take(amt)
    local g = grant_get(id)
    g.held, g.spent, g.dirty = g.held - amt, g.spent + u, true
    if g.state ~= G_ACTIVE then
      g.forf = g.forf + amt - u
      w.p_forf = w.p_forf + amt - u
      forfeited = forfeited + amt - u
    end
    c.pool = c.pool + u
    if u > 0 then c.grants[#c.grants + 1] = {id, u} end
  end
  w.p_held, w.p_spent = w.p_held - r.h_pool, w.p_spent + c.pool
  c.ov = take(r.h_ov)
  w.ov_held, w.ov_used = w.ov_held - r.h_ov, w.ov_used + c.ov
  if a.prog then
    w.prog_held = w.prog_held - r.h_pool - r.h_ov
    w.prog_used = w.prog_used + c.pool + c.ov
  else
    a.p_held, a.p_used = a.p_held - r.h_pool, a.p_used + c.pool
  end
  local released = res_held(r) - used + left
  r.h_seat, r.h_old, r.h_free, r.h_pool, r.h_grants, r.h_ov = 0, 0, 0, 0, '', 0
  return c, released, forfeited
end

local function unindex(r)
  redis.call('ZREM', holds_key(r.member), r.id)
  redis.call('ZREM', DEADLINES, r.id)
end

-- nearest_held returns r's nearest ancestor that is still held, or nil.
local function nearest_held(r)
  local id = r.parent
  while id and id ~= '' do
    local q, ok = res_load(id)
    if not ok then return nil end
    if q.state == HELD then return q end
    id = q.parent
  end
  return nil
end

-- merge moves what r holds into q (both of account a; the account's
-- counters do not change, the credits stay held) and, with costs, the
-- costs r's subtree recorded. Returns what moved.
local function merge(a, q, r, costs)
  normalize(a, q)
  normalize(a, r)
  local moved = res_held(r)
  q.h_old, q.h_seat, q.h_free = q.h_old + r.h_old, q.h_seat + r.h_seat, q.h_free + r.h_free
  local grants = parts_decode(q.h_grants)
  for _, e in ipairs(parts_decode(r.h_grants)) do parts_add(grants, e[1], e[2]) end
  q.h_grants, q.h_pool, q.h_ov = parts_encode(grants), q.h_pool + r.h_pool, q.h_ov + r.h_ov
  if costs then q.kc = q.kc + r.kc end
  r.h_seat, r.h_old, r.h_free, r.h_pool, r.h_grants, r.h_ov, r.kc = 0, 0, 0, 0, '', 0, 0
  return moved
end

-- carve moves up to amount of p's hold to the child c, in p's draw order.
local function carve(p, c, amount)
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
  t = take(p.h_ov)
  p.h_ov, c.h_ov = p.h_ov - t, c.h_ov + t
end

-- void_kids voids r's children still held, and theirs, into r: their
-- holds and recorded costs move to r, and they end in state.
local function void_kids(a, r, state)
  for _, id in ipairs(redis.call('ZRANGE', kids_key(r.id), 0, -1)) do
    local k, ok = res_load(id)
    if ok and k.state == HELD then
      void_kids(a, k, state)
      local moved = merge(a, r, k, true)
      k.state, k.st, k.rel, k.rec = state, NOW, moved, 2
      unindex(k)
      res_save(k)
      ledger('void', k.member, k.id, {'into', r.id, 'released', moved})
    end
  end
end

-- release ends r's hold: into its nearest held ancestor (with the costs
-- its subtree recorded, when costs), or back to the sources. Returns the
-- ancestor (or nil), what was released and what of that was forfeited.
local function release(w, a, r, costs)
  local q = nearest_held(r)
  if q then
    local moved = merge(a, q, r, costs)
    res_save(q)
    return q, moved, 0
  end
  local _, released, forfeited = settle(w, a, r, 0)
  return nil, released, forfeited
end

-- expire releases a held reservation whose deadline has passed, and its
-- children still held.
local function expire(w, a, r)
  void_kids(a, r, EXPIRED)
  local q, released, forfeited = release(w, a, r, true)
  r.state, r.st, r.rel = EXPIRED, r.dl, released
  res_save(r)
  unindex(r)
  ledger('expire', r.member, r.id, {'released', released, 'forfeited', forfeited,
    'into', q and q.id or ''})
end

-- EXPIRE_OTHERS bounds how many holds of other owners a script releases;
-- the sweeper (every second by default) keeps the backlog below it.
local EXPIRE_OTHERS = 256

-- expire_workspace releases up to limit holds of the workspace whose
-- deadline is <= now, whoever holds them (they hold pool, overage and
-- programmatic credits that everyone draws on). a, when given, is the
-- account the script works on, used for its own holds so that the script
-- keeps one copy of it. Returns how many it released.
local function expire_workspace(w, a, limit)
  local n = 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', DEADLINES, '-inf', NOW, 'LIMIT', 0, limit)) do
    local r, ok = res_load(id)
    if ok and r.state == HELD then
      if a and r.member == a.member then
        expire(w, a, r)
      else
        local other = acct_load(r.member)
        expire(w, other, r)
        acct_save(other)
      end
      n = n + 1
    else
      redis.call('ZREM', DEADLINES, id)
      if ok then redis.call('ZREM', holds_key(r.member), id) end
    end
  end
  return n
end

-- expire_due releases every hold of the account whose deadline is <= now.
local function expire_due(w, a)
  local ids = redis.call('ZRANGEBYSCORE', holds_key(a.member), '-inf', NOW)
  for _, id in ipairs(ids) do
    local r, ok = res_load(id)
    if ok and r.state == HELD then
      expire(w, a, r)
    else
      redis.call('ZREM', holds_key(a.member), id)
      redis.call('ZREM', DEADLINES, id)
    end
  end
end

-- denial builds the reply for a hold that cannot be taken, with the reason
-- in precedence order: no seat and no credits; personal pool cap reached;
-- programmatic cap reached; credits exhausted.
local function denial(w, a, p, want, least)
  local avail, own = spendable(w, a, p)
  local reason = 'CREDITS_EXHAUSTED'
  -- A cap is "reached" when it is spent or is what stops the draw.
  if a.prog then
    local left = prog_left(w)
    if w.prog_cap >= 0 and (left == 0 or left < p.avail + overage_limit(w, a)) then
      reason = 'PROGRAMMATIC_CAP_REACHED'
    end
  elseif a.seat == 0 and own == 0 then
    reason = 'NO_SEAT'
  elseif a.seat >= 2 and pool_cap(w, a) >= 0 then
    local left = pool_limit(w, a)
    if left == 0 or left < p.avail then reason = 'POOL_CAP_REACHED' end
  end
  local member, spender = a.member, ''
  if a.prog then member, spender = '', string.sub(a.member, 2) end
  return {'ERR', 'DENIED', reason, fmt(want), fmt(least), fmt(avail), member, spender}
end

-- Low balance: a member's own spendable credits below 20% of their
-- allocation; the pool below 20% of what its drawable grants granted.
local function member_low(a)
  local alloc = a.s_alloc + a.f_alloc
  return a.exists and alloc > 0 and avail_own(a) * 5 < alloc
end

local function pool_low(p)
  return p.granted > 0 and p.avail * 5 < p.granted
end

-- pool_event appends, once per workspace period, a pool low-balance event
-- to the workspace's event stream (see README, "Events").
local function pool_event(w, p)
  if pool_low(p) and w.ev_pool ~= w.wps then
    w.ev_pool = w.wps
    redis.call('XADD', EVENTS, '*', 'type', 'pool_low_balance', 'ts', fmt(NOW),
      'member', '', 'available', fmt(p.avail), 'allocated', fmt(p.granted),
      'period_start', fmt(w.wps), 'period_end', fmt(w.wpe))
  end
end

-- events appends, once per period, a low-balance event for the member and
-- for the pool to the workspace's event stream.
local function events(w, a, p)
  if member_low(a) and a.ev_low ~= a.ps then
    a.ev_low = a.ps
    redis.call('XADD', EVENTS, '*', 'type', 'member_low_balance', 'ts', fmt(NOW),
      'member', a.member, 'available', fmt(avail_own(a)), 'allocated', fmt(a.s_alloc + a.f_alloc),
      'period_start', fmt(a.ps), 'period_end', fmt(a.pe))
  end
  pool_event(w, p)
end

-- Replies.
local function out_put(out, k, v)
  if type(v) == 'number' then v = fmt(v) end
  out[#out + 1] = k
  out[#out + 1] = v or ''
  return out
end

local WS_OUT = {'anchor', 'pooled', 'pcap', 'ov_on', 'ov_cap', 'prog_cap', 'wps', 'wpe',
  'ov_used', 'ov_held', 'prog_used', 'prog_held', 'p_granted', 'p_held', 'p_spent', 'p_forf'}

-- out_ws adds the workspace and its pool ("w." fields).
local function out_ws(out, w, p)
  for _, f in ipairs(WS_OUT) do out_put(out, 'w.' .. f, w[f]) end
  out_put(out, 'w.p_avail', p.avail)
  out_put(out, 'w.p_pending', p.pending)
  out_put(out, 'w.low', pool_low(p) and 1 or 0)
  return out
end

local ACCT_OUT = {'seat', 'next', 'ps', 'pe', 's_alloc', 's_spent', 's_held',
  'f_alloc', 'f_spent', 'f_held', 'alloc', 'spent', 'forf', 'held', 'p_used', 'p_held'}

-- out_acct adds the account ("b." fields): its own credits, what it may
-- draw from the pool and overage now, its pool cap and low-balance flags.
local function out_acct(out, w, a, p)
  out_put(out, 'b.exists', a.exists and 1 or 0)
  for _, f in ipairs(ACCT_OUT) do out_put(out, 'b.' .. f, a[f]) end
  local total, own, pool, ov = spendable(w, a, p)
  out_put(out, 'b.spendable', total)
  out_put(out, 'b.pool', pool)
  out_put(out, 'b.ov', ov)
  out_put(out, 'b.pcap', pool_cap(w, a))
  out_put(out, 'b.low', member_low(a) and 1 or 0)
  out_put(out, 'b.pool_low', pool_low(p) and 1 or 0)
  return out
end

local function out_grant(out, pre, g)
  for _, f in ipairs(GRANT_FIELDS) do out_put(out, pre .. f, g[f]) end
  return out
end

-- MAX_SHOWN bounds how many descendants a reply carries or a run's cap
-- counts.
local MAX_SHOWN = 1000

-- run_open sums what the run's held reservations other than the root hold:
-- budget children may still spend, which the run's token cap counts.
local function run_open(root)
  local sum, n = 0, 0
  local function visit(id)
    for _, kid in ipairs(redis.call('ZRANGE', kids_key(id), 0, -1)) do
      local k, ok = res_load(kid)
      n = n + 1
      if ok and k.state == HELD and n <= MAX_SHOWN then
        sum = sum + res_held(k)
        visit(kid)
      end
    end
  end
  visit(root.id)
  return sum
end

-- run_cap_left is what the run's token cap still allows (UNLIMITED without
-- a cap): the cap less the token credits recorded and what open children
-- hold.
local function run_cap_left(r)
  local root = res_load(r.root)
  if root.rcap < 0 then return UNLIMITED end
  return max(root.rcap - root.rtok - run_open(root), 0)
end

-- out_res adds the reservation ("r." fields), its run's token cap and
-- spend, and the costs of its committed descendants ("k<i>." fields: id,
-- parent, ord, cost) for the caller to nest: each under its nearest
-- committed ancestor (or under the reservation itself), in the order the
-- reservations were made. A refunded reservation dropped the costs
-- recorded under it, so its subtree is not shown; a voided or expired one
-- passed them up, so its committed descendants are.
local function out_res(out, r)
  out_put(out, 'r.id', r.id)
  for _, f in ipairs(RES_FIELDS) do out_put(out, 'r.' .. f, r[f]) end
  local root = res_load(r.root)
  out_put(out, 'r.run_cap', root.rcap)
  out_put(out, 'r.run_tok', root.rtok)
  local n = 0
  local function visit(id, under)
    for _, kid in ipairs(redis.call('ZRANGE', kids_key(id), 0, -1)) do
      local k, ok = res_load(kid)
      if n < MAX_SHOWN and ok and (k.state ~= REFUNDED or k.rec == 2) then
        local next = under
        if k.state == COMMITTED then
          n = n + 1
          local pre = 'k' .. n .. '.'
          out_put(out, pre .. 'id', k.id)
          out_put(out, pre .. 'parent', under)
          out_put(out, pre .. 'ord', n)
          out_put(out, pre .. 'cost', k.cost)
          next = k.id
        end
        visit(kid, next)
      end
    end
  end
  visit(r.id, r.id)
  out_put(out, 'k.n', n)
  return out
end

-- open loads what every reservation script needs: the workspace (nil if it
-- was never set up) and the owner's account, both brought into their
-- current periods, with the account's expired holds released (and up to
-- EXPIRE_OTHERS of other owners'), and the pool. ok is false, and nothing
-- has changed, when a period has ended and the caller must pass the new
-- one.
-- With create, a member without an account gets one (saved by finish).
local function open(owner, create)
  local w = ws_load()
  if not w then return nil end
  local a = acct_load(owner)
  if create then a.exists = true end
  if not ready(w, a) then return w, a, nil, false end
  expire_due(w, a)
  expire_workspace(w, a, EXPIRE_OTHERS)
  return w, a, pool_load(w), true
end

-- open_res opens the account of the owner of the reservation whose hash
-- is key (see open) and loads the reservation. It returns true and the
-- workspace, account, pool and reservation, or false and the reply to
-- give: the reservation does not exist, or a period must be rolled over.
local function open_res(key, id)
  local owner = redis.call('HGET', key, 'member')
  if not owner then return false, {'ERR', 'NOT_FOUND'} end
  local w, a, p, ok = open(owner)
  if not w then return false, {'ERR', 'NOT_FOUND'} end
  if not ok then return false, {'ROLL', fmt(w.anchor)} end
  return true, w, a, p, res_load(id)
end

-- finish re-reads the pool after the changes, appends the low-balance
-- events, writes back the workspace, the account and the grants, and
-- returns the pool as it now stands.
local function finish(w, a)
  local p = pool_load(w)
  events(w, a, p)
  ws_save(w)
  acct_save(a)
  pool_save()
  return p
end

-- reply_res is the reply of a reservation script: the reservation and the
-- owner's account.
local function reply_res(w, a, p, r)
  local out = {'OK'}
  out_res(out, r)
  out_acct(out, w, a, p)
  return out
end
