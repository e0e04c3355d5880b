-- account.lua: the workspace and accounts, and their billing periods.
--
-- Workspace: q:{ws:<id>}:ws (layout K.L_WS).
--   anchor         subscription start (ms): the anchor of every period
--   pooled         1: members get no seat credits (from their next reset)
--   pcap           default member pool cap per period (K.CAP_UNLIMITED: none)
--   ov_on, ov_cap  overage enabled, and its cap per period
--   prog_cap       programmatic cap per period (K.CAP_UNLIMITED: none)
--   wps, wpe       the workspace's current period; wpe = 0: none yet
--   ov_used, ov_held        overage of this period (spent, held)
--   prog_used, prog_held    programmatic usage (pool and overage) this period
--   p_granted      µcredits ever granted to the pool; at every moment
--                  p_granted = p_avail + p_pend + p_held + p_spent + p_forf
--   p_avail        what active grants (started, not ended) have left
--   p_pend         what pending grants (not started yet) have left
--   p_live         what active grants granted (the low-balance base)
--   p_held, p_spent, p_forf   the pool's held, spent and forfeited credits
--   ev_pool        wps of the period of the last pool low-balance event
--   g_seq          grants created so far (grant ids and creation order)
--   g_next         time of the next grant start or expiry (0: none)
--   d_next         no held reservation has a deadline before it (a lower
--                  bound: 0 means unknown), so that a call checks the
--                  deadlines index only once something may be due
--
-- Account: q:{ws:<id>}:acct:<owner> (layout K.L_ACCT), where owner is a
-- member id, or K.SPENDER_MARK and a spender id for programmatic usage
-- (such accounts have no credits of their own and are never stored).
--   seat, next     seat rank in force, rank pending for the next reset (-1: none)
--   smon           monthly allocation of the seat in force
--   nmon, nlife    monthly and lifetime allocation of the pending seat
--   ps, pe         current period [ps, pe) in ms; pe = 0: no period yet
--   s_alloc, s_spent, s_held   seat credits of the current period
--   f_alloc, f_spent, f_held   free lifetime credits
--   alloc, spent, forf, held   lifetime counters of the member's own credits:
--        alloc = available + held + spent + forf, where
--        available = (s_alloc - s_spent - s_held) + (f_alloc - f_spent - f_held)
--        and held also counts seat credits held from earlier periods
--   pcap           pool cap override (K.CAP_DEFAULT: none, the workspace
--                  default applies; K.CAP_UNLIMITED: unlimited)
--   p_used, p_held pool drawn this period (spent, held), against the cap
--   ev_low         ps of the period of the last low-balance event

local function ws_get(u)
  local w = rec(u, u.kws, K.L_WS)
  return w
end

-- ws_ready brings the workspace into its current period: overage and
-- programmatic usage start again (holds still open stay counted: they
-- count against the new period). The caller checked that the new period
-- was passed when needed.
local function ws_ready(u, w)
  if w.wpe ~= 0 and u.now < w.wpe then return end
  ledger(u, 'ws_reset', '', '', {'overage_used', w.ov_used, 'programmatic_used', w.prog_used,
    'period_start', u.rps, 'period_end', u.rpe})
  w.ov_used, w.prog_used = 0, 0
  w.wps, w.wpe = u.rps, u.rpe
  touch(u, w)
end

-- acct_get returns owner's account (key: its key, when the caller built
-- it already).
local function acct_get(u, owner, key)
  key = key or u.pre .. 'acct:' .. owner
  local a = rec(u, key, K.L_ACCT)
  if a then
    a.member, a.exists = owner, true
    return a
  end
  a = {seat = 0, next = -1, smon = 0, nmon = 0, nlife = 0, ps = 0, pe = 0, s_alloc = 0,
    s_spent = 0, s_held = 0, f_alloc = 0, f_spent = 0, f_held = 0, alloc = 0, spent = 0,
    forf = 0, held = 0, pcap = K.CAP_DEFAULT, p_used = 0, p_held = 0, ev_low = 0}
  a.member = owner
  a.prog = string.sub(owner, 1, 1) == K.SPENDER_MARK
  a.exists = false
  u.recs[key] = a
  return a
end

-- acct_create makes a member's account exist (it is written by flush;
-- roll, which gives it its first period, indexes it).
local function acct_create(u, a)
  if a.exists or a.prog then return end
  a.exists = true
  a._k, a._L = u.pre .. 'acct:' .. a.member, K.L_ACCT
  touch(u, a)
end

local function acct_touch(u, a)
  if a.exists then touch(u, a) end
end

local function avail_seat(a) return a.s_alloc - a.s_spent - a.s_held end
local function avail_free(a) return a.f_alloc - a.f_spent - a.f_held end
local function avail_own(a)
  if not a.exists then return 0 end
  return max(avail_seat(a), 0) + max(avail_free(a), 0)
end

-- grant_lifetime gives the free lifetime allocation once per account.
local function grant_lifetime(u, a, life)
  if life > 0 and a.f_alloc == 0 then
    a.f_alloc = life
    a.alloc = a.alloc + life
    ledger(u, 'grant_free', a.member, '', {'allocated', life})
  end
end

-- roll starts the period [ps, pe) for an account: unused seat credits of
-- the period that ended are forfeited (holds of that period stay held, and
-- are forfeited when released), a pending seat change takes effect, the
-- seat's monthly allocation is granted (none in a pooled workspace), and
-- the member's pool use starts again from what its open holds still hold.
local function roll(u, w, a, ps, pe)
  local forfeited = 0
  if a.pe ~= 0 then
    forfeited = avail_seat(a)
    a.forf = a.forf + forfeited
  end
  if a.next >= 0 then
    a.seat, a.smon = a.next, a.nmon
    grant_lifetime(u, a, a.nlife)
    a.next, a.nmon, a.nlife = -1, 0, 0
  end
  local monthly = a.smon
  if w.pooled == 1 then monthly = 0 end
  a.s_alloc, a.s_spent, a.s_held = monthly, 0, 0
  a.alloc = a.alloc + monthly
  a.p_used = 0 -- pool holds still open count against the new period's cap
  a.ps, a.pe = ps, pe
  if a.exists then
    ledger(u, 'reset', a.member, '', {'forfeited', forfeited, 'allocated', monthly,
      'period_start', ps, 'period_end', pe})
    touch(u, a)
    -- The members index (a zset of member ids, score 0, paged by lex
    -- range: fn_list_members.lua): an account joins it with its first
    -- period, when it is written (a call that answers ROLL changes
    -- nothing); one made before the index existed, at its next reset.
    redis.call('ZADD', u.pre .. 'members', 0, a.member)
  end
end

-- period_due tells whether the workspace's or the account's (when given)
-- period has ended, and then whether the call passed the new one.
local function period_due(u, w, a)
  local need_ws = not (w.wpe ~= 0 and u.now < w.wpe)
  local need_acct = a and a.exists and not (a.pe ~= 0 and u.now < a.pe)
  return need_ws, need_acct, u.rpe > 0 and u.rps <= u.now and u.now < u.rpe
end

-- ready brings the workspace and the account (when given) into their
-- current periods. It returns false, having changed nothing, when a
-- period has ended and the caller did not pass the new one.
local function ready(u, w, a)
  local need_ws, need_acct, passed = period_due(u, w, a)
  if (need_ws or need_acct) and not passed then
    return false
  end
  if need_ws then ws_ready(u, w) end
  if need_acct then roll(u, w, a, u.rps, u.rpe) end
  return true
end

-- Caps: what the account may draw from the pool and overage now.

-- prog_left is what the programmatic cap still allows this period.
local function prog_left(w)
  if w.prog_cap < 0 then return K.UNLIMITED end
  return max(w.prog_cap - w.prog_used - w.prog_held, 0)
end

-- pool_cap is the member's cap per period (K.CAP_UNLIMITED: none).
local function pool_cap(w, a)
  if a.pcap ~= K.CAP_DEFAULT then return a.pcap end
  return w.pcap
end

-- pool_limit is what the account may draw from the pool now by its caps:
-- seats that do not draw from the pool get nothing; programmatic spenders
-- draw within the programmatic cap.
local function pool_limit(w, a)
  if a.prog then return prog_left(w) end
  if not K.POOL_SEAT[a.seat] then return 0 end
  local cap = pool_cap(w, a)
  if cap < 0 then return K.UNLIMITED end
  return max(cap - a.p_used - a.p_held, 0)
end

-- overage_limit is what overage still allows the account this period.
local function overage_limit(w, a)
  if w.ov_on ~= 1 or (not a.prog and not K.POOL_SEAT[a.seat]) then return 0 end
  return max(w.ov_cap - w.ov_used - w.ov_held, 0)
end

-- spendable is what the account could hold now: in all, and from its own
-- credits, the pool and overage.
local function spendable(w, a)
  local own = avail_own(a)
  local pool = min(w.p_avail, pool_limit(w, a))
  local ov = overage_limit(w, a)
  if a.prog then ov = max(min(ov, prog_left(w) - pool), 0) end
  return own + pool + ov, own, pool, ov
end

-- Low balance: a member's own spendable credits below K.LOW_PCT percent
-- of their allocation; the pool below K.LOW_PCT percent of what its
-- active grants granted.
local function member_low(a)
  local alloc = a.s_alloc + a.f_alloc
  return a.exists and alloc > 0 and avail_own(a) * 100 < alloc * K.LOW_PCT
end

local function pool_low(w)
  return w.p_live > 0 and w.p_avail * 100 < w.p_live * K.LOW_PCT
end

-- events appends, once per period, a low-balance event for the member
-- and for the pool to the workspace's event stream (README, "Events").
local function events(u, w, a)
  if a and member_low(a) and a.ev_low ~= a.ps then
    a.ev_low = a.ps
    touch(u, a)
    xadd(u, u.pre .. 'events', {'type', 'member_low_balance', 'ts', u.nows,
      'member', a.member, 'available', avail_own(a), 'allocated', a.s_alloc + a.f_alloc,
      'period_start', a.ps, 'period_end', a.pe})
  end
  if pool_low(w) and w.ev_pool ~= w.wps then
    w.ev_pool = w.wps
    touch(u, w)
    xadd(u, u.pre .. 'events', {'type', 'pool_low_balance', 'ts', u.nows,
      'member', '', 'available', w.p_avail, 'allocated', w.p_live,
      'period_start', w.wps, 'period_end', w.wpe})
  end
end

-- bal_vals returns the account's balance (layout K.B), in order: the
-- account as stored, and what it derives.
local function bal_vals(w, a)
  local total, _, pool, ov = spendable(w, a)
  local used, pcap = a.p_held + a.p_used, pool_cap(w, a)
  local low, plow = member_low(a) and 1 or 0, pool_low(w) and 1 or 0
  if not a.exists then
    return '', 0, w.wps, w.wpe, 0, 0, 0, 0, 0, 0, total, pool, used, ov, pcap, low, plow
  end
  local sa, fa = max(avail_seat(a), 0), max(avail_free(a), 0)
  return rec_raw(a), 1, a.ps, a.pe, sa, fa, a.s_alloc + a.f_alloc, sa + fa, a.s_held + a.f_held,
    a.s_spent + a.f_spent, total, pool, used, ov, pcap, low, plow
end

-- reply_balance is the reply of a call that answers an account's
-- balance (layout K.B), packed.
local function reply_balance(w, a)
  return packed(K.PACKED, cmsgpack.pack(bal_vals(w, a)))
end

-- put_balance appends the account's balance (layout K.B) to out.
local function put_balance(out, w, a)
  return append(out, bal_vals(w, a))
end

-- put_workspace appends the workspace as stored and what it derives
-- (layout K.W) to out.
local function put_workspace(out, w)
  local n, I = #out, K.iW
  out[n + I.ws] = rec_raw(w)
  out[n + I.low] = pool_low(w) and 1 or 0
  return out
end
