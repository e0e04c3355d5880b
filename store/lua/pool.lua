-- pool.lua: the workspace pool's grants, kept so that no call reads more
-- grants than it draws from.
--
-- Grant: q:{ws:<id>}:grant:<gid> (layout K.L_GRANT); gid is "g" and its
-- creation number.
--   kind, amount, start, exp, prio, seq, ct   as added (ms for times)
--   state     K.G_PENDING (start in the future), K.G_ACTIVE, K.G_EXPIRED,
--             K.G_VOIDED
--   held, spent, forf   amount = available + held + spent + forf
--
-- Indexes (zsets under the workspace prefix):
--   grants_all   every grant, by creation number (listing)
--   gtimes       every grant not ended, by the time of its next transition:
--                its start while pending, its expiry once active
--   gorder       the active grants with credits left, in draw order: all
--                scores 0, members "<1e9-prio:10><exp:15><seq:10>:<gid>", so
--                the lexical order is priority (highest first), earliest
--                expiry, oldest
--
-- The workspace record keeps the pool's sums (p_avail, p_pend, p_live) and
-- the time of the next transition (g_next, 0: none), so a call that does
-- not draw from the pool reads no grant, and one with no transition due
-- reads no index. Transitions that
-- are due are applied lazily, up to K.GRANT_STEPS per call (the sweeper
-- applies the rest).

local function grant_get(u, gid)
  local g = rec(u, u.pre .. 'grant:' .. gid, K.L_GRANT)
  if g then g.id = gid end
  return g
end

local function grant_avail(g) return g.amount - g.held - g.spent - g.forf end

local function gorder_member(g)
  return string.format('%010.0f%015.0f%010.0f:%s', 1e9 - g.prio, g.exp, g.seq, g.id)
end

-- grant_end ends a live grant (expired or voided): what is left is
-- forfeited now; what is held is forfeited when released.
local function grant_end(u, w, g, state)
  local rest = grant_avail(g)
  if g.state == K.G_ACTIVE then
    w.p_avail, w.p_live = w.p_avail - rest, w.p_live - g.amount
    redis.call('ZREM', u.pre .. 'gorder', gorder_member(g))
  else
    w.p_pend = w.p_pend - rest
  end
  g.forf, g.state = g.forf + rest, state
  w.p_forf = w.p_forf + rest
  redis.call('ZREM', u.pre .. 'gtimes', g.id)
  u.gtimes = true
  touch(u, g)
  touch(u, w)
  local op = 'grant_expire'
  if state == K.G_VOIDED then op = 'grant_void' end
  ledger(u, op, '', '', {'grant', g.id, 'forfeited', rest})
end

-- grant_start makes a pending grant active.
local function grant_start(u, w, g)
  local rest = grant_avail(g)
  w.p_pend, w.p_avail, w.p_live = w.p_pend - rest, w.p_avail + rest, w.p_live + g.amount
  g.state = K.G_ACTIVE
  redis.call('ZADD', u.pre .. 'gtimes', g.exp, g.id)
  u.gtimes = true
  if rest > 0 then redis.call('ZADD', u.pre .. 'gorder', 0, gorder_member(g)) end
  touch(u, g)
  touch(u, w)
end

-- pool_tick applies up to limit grant starts and expiries that are due.
-- It returns whether more are due.
local function pool_tick(u, w, limit)
  if w.g_next == 0 or w.g_next > u.now then return false end
  local due = redis.call('ZRANGEBYSCORE', u.pre .. 'gtimes', '-inf', u.nows, 'LIMIT', '0', fmt(limit + 1))
  for i = 1, min(#due, limit) do
    local g = grant_get(u, due[i])
    if g.state == K.G_PENDING and g.exp > u.now then
      grant_start(u, w, g)
    elseif g.state == K.G_PENDING or g.state == K.G_ACTIVE then
      grant_end(u, w, g, K.G_EXPIRED)
    else
      redis.call('ZREM', u.pre .. 'gtimes', g.id)
      u.gtimes = true
    end
  end
  return #due > limit
end

-- pool_full reports whether the pool holds K.MAX_POOL_GRANTS live grants
-- (gtimes: every grant pending or active), so that a draw from it
-- touches at most that many.
local function pool_full(u)
  return redis.call('ZCARD', u.pre .. 'gtimes') >= K.MAX_POOL_GRANTS
end

-- grant_add adds a grant, pending or active as of now.
local function grant_add(u, w, kind, amount, start, exp, prio)
  w.g_seq = w.g_seq + 1
  local g = rec_new(u, u.pre .. 'grant:g' .. fmt(w.g_seq), K.L_GRANT, {kind = kind, amount = amount,
    start = start, exp = exp, prio = prio, seq = w.g_seq, ct = u.now, state = K.G_PENDING,
    held = 0, spent = 0, forf = 0})
  g.id = 'g' .. fmt(w.g_seq)
  redis.call('ZADD', u.pre .. 'grants_all', g.seq, g.id)
  w.p_granted, w.p_pend = w.p_granted + amount, w.p_pend + amount
  touch(u, w)
  if start <= u.now then
    grant_start(u, w, g)
  else
    redis.call('ZADD', u.pre .. 'gtimes', start, g.id)
    u.gtimes = true
  end
  return g
end

-- pool_take takes up to want from the active grants in draw order and
-- returns the parts taken ({gid, amount} in draw order) and their sum.
-- how says what the credits become: 'hold' (held), 'spend' (spent), or
-- 'debit' (an operator's adjustment: the grants' amounts shrink, and the
-- pool's sums with them). The caller bounds want by the account's caps
-- and by w.p_avail.
local function pool_take(u, w, want, how)
  local parts, took = {}, 0
  local key = u.pre .. 'gorder'
  -- Each grant met is either emptied (and leaves the index) or covers the
  -- rest, so reading from the front again always makes progress.
  while took < want do
    local batch = redis.call('ZRANGE', key, 0, 7)
    if #batch == 0 then break end
    for _, m in ipairs(batch) do
      if took >= want then break end
      local g = grant_get(u, string.match(m, ':(.*)$'))
      local t = min(want - took, grant_avail(g))
      if t > 0 then
        if how == 'hold' then
          g.held = g.held + t
        elseif how == 'spend' then
          g.spent = g.spent + t
        else
          g.amount = g.amount - t
        end
        parts[#parts + 1] = {g.id, t}
        took = took + t
        touch(u, g)
      end
      if grant_avail(g) <= 0 then redis.call('ZREM', key, m) end
    end
  end
  w.p_avail = w.p_avail - took
  if how == 'debit' then w.p_granted, w.p_live = w.p_granted - took, w.p_live - took end
  touch(u, w)
  return parts, took
end

-- pool_settle settles amt held from grant gid, of which used is spent:
-- the rest returns to the grant, or is forfeited if the grant has ended.
-- It returns what was forfeited.
local function pool_settle(u, w, gid, amt, used)
  local g = grant_get(u, gid)
  local back = amt - used
  local before = grant_avail(g)
  g.held, g.spent = g.held - amt, g.spent + used
  touch(u, g)
  if g.state == K.G_ACTIVE then
    w.p_avail = w.p_avail + back
    if before <= 0 and back > 0 then redis.call('ZADD', u.pre .. 'gorder', 0, gorder_member(g)) end
    return 0
  end
  g.forf = g.forf + back
  w.p_forf = w.p_forf + back
  return back
end

-- put_grant appends a grant as stored and what it derives (layout K.G)
-- to out.
local function put_grant(out, u, g)
  local n, I = #out, K.iG
  out[n + I.id] = g.id
  out[n + I.grant] = rec_raw(g)
  out[n + I.avail] = grant_avail(g)
  return out
end
