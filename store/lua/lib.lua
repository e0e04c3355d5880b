-- lib.lua: helpers shared by every script: conventions, workspace and
-- account records, billing periods. The Go side prepends this file and
-- hold.lua to each script before wrapping it in redis.NewScript, so each
-- script is still one atomic EVALSHA.
--
-- Conventions shared by all scripts:
--   * every amount is an integer of µcredits held in a Lua number (a double):
--     the API bounds amounts so that every sum stays below 2^53, so the
--     arithmetic is exact; amounts leave Lua as decimal strings (fmt);
--   * every time is Unix milliseconds, passed in by quotad (never read from
--     the Redis clock), so tests can move time;
--   * every key of a workspace starts with the prefix "q:{ws:<id>}:" (ARGV[2])
--     so that a script touches one cluster slot. Keys of reservations,
--     grants and accounts met along the way are built from that prefix;
--   * a script replies with a flat array of strings: {"OK", k1, v1, ...},
--     {"ERR", code, ...}, or {"ROLL", anchor_ms} when the workspace's or the
--     member's billing period has ended and the caller must pass the new
--     period's bounds (computed in Go, package quota) as ARGV[3] and ARGV[4];
--   * mutations record their reply under the request's idempotency key, with
--     the request's fingerprint, in the same step as the change; a retry
--     with the same fingerprint gets the recorded reply and changes nothing.
--     Denials, illegal transitions and ended grants are recorded too (a
--     retry gets the same answer); "not found" answers, which change
--     nothing, are not.
--
-- Common ARGV: [1] now (ms), [2] key prefix, [3] new period start (ms, or 0),
-- [4] new period end (ms, or 0), [5] request id, [6] request fingerprint.

local NOW = tonumber(ARGV[1])
local PREFIX = ARGV[2]
local ROLL_PS = tonumber(ARGV[3]) or 0
local ROLL_PE = tonumber(ARGV[4]) or 0
local REQ_ID = ARGV[5] or ''
local REQ_FP = ARGV[6] or ''

-- Idempotency records are kept 48 hours (the API promises at least 24).
local IDEM_TTL_MS = 172800000

-- Larger than any amount (amounts stay below 2^53).
local UNLIMITED = 9007199254740992

-- The most a workspace's pool may be granted in all (2^52), so that pool
-- counters stay exact in doubles.
local MAX_POOL = 4503599627370496

-- Reservation states (quota.State).
local HELD, COMMITTED, REFUNDED, EXPIRED = 1, 2, 3, 4

-- fmt renders an integral number as a decimal string (exact below 2^53).
local function fmt(x)
  return string.format('%.0f', x)
end

local function min(a, b)
  if a < b then return a end
  return b
end

local function max(a, b)
  if a > b then return a end
  return b
end

-- hload reads a hash into a table; numeric fields listed in nums become
-- numbers (0 when missing). Returns the table and whether the key existed.
-- t.loaded keeps the values as read, so that hsave writes only changes.
local function hload(key, nums)
  local raw = redis.call('HGETALL', key)
  local t, loaded = {}, {}
  for i = 1, #raw, 2 do
    t[raw[i]] = raw[i + 1]
  end
  for _, f in ipairs(nums) do
    t[f] = tonumber(t[f]) or 0
  end
  for k, v in pairs(t) do loaded[k] = v end
  t.loaded = loaded
  return t, #raw > 0
end

-- hsave writes the listed fields of t to a hash: those that differ from
-- what the hash holds (as read by hload or last written here), or all of
-- them for a table that was built, not loaded. It then records what the
-- hash holds, so that a field changed, saved and changed back is written
-- again.
local function hsave(key, t, fields)
  local fresh = not t.loaded
  if fresh then t.loaded = {} end
  local args, loaded = {}, t.loaded
  for _, f in ipairs(fields) do
    local v = t[f]
    if fresh or v ~= loaded[f] then
      loaded[f] = v
      if type(v) == 'number' then v = fmt(v) end
      args[#args + 1] = f
      args[#args + 1] = v or ''
    end
  end
  if #args > 0 then redis.call('HSET', key, unpack(args)) end
end

local LEDGER = PREFIX .. 'ledger'
local EVENTS = PREFIX .. 'events'
local DEADLINES = PREFIX .. 'deadlines'

-- ledger appends one entry to the workspace's ledger stream. kv is a flat
-- list of field, value (numbers are rendered with fmt).
local function ledger(op, owner, res, kv)
  local args = {'XADD', LEDGER, '*', 'op', op, 'ts', fmt(NOW), 'member', owner or '',
    'res', res or '', 'req', REQ_ID}
  for i = 1, #kv do
    local v = kv[i]
    if type(v) == 'number' then v = fmt(v) end
    args[#args + 1] = v
  end
  redis.call(unpack(args))
end

-- Workspace: a hash at PREFIX..'ws'.
--   anchor         subscription start (ms): the anchor of every period
--   pooled         1: members get no seat credits (from their next reset)
--   pcap           default member pool cap per period (-1: unlimited)
--   ov_on, ov_cap  overage enabled, and its cap per period
--   prog_cap       programmatic cap per period (-1: unlimited)
--   wps, wpe       the workspace's current period; wpe = 0: none yet
--   ov_used, ov_held        overage of this period
--   prog_used, prog_held    programmatic usage (pool and overage) this period
--   p_granted, p_held, p_spent, p_forf   the pool, for life:
--        p_granted = available + p_held + p_spent + p_forf, where
--        available is what live and pending grants have left
--   ev_pool        wps of the last pool low-balance event
--   g_seq          grants created so far (ids and creation order)
local WS_NUMS = {'anchor', 'pooled', 'pcap', 'ov_on', 'ov_cap', 'prog_cap', 'wps', 'wpe',
  'ov_used', 'ov_held', 'prog_used', 'prog_held',
  'p_granted', 'p_held', 'p_spent', 'p_forf', 'ev_pool', 'g_seq'}

-- ws_load returns the workspace, or nil when it was never set up
-- (set_workspace.lua creates it with unlimited caps).
local function ws_load()
  local w, ok = hload(PREFIX .. 'ws', WS_NUMS)
  if not ok then return nil end
  return w
end

local function ws_save(w)
  hsave(PREFIX .. 'ws', w, WS_NUMS)
end

-- ws_ready brings the workspace into its current period: overage and
-- programmatic usage start again from what open holds still hold. Returns false when the period
-- has ended and the caller did not pass the new one.
local function ws_ready(w)
  if w.wpe ~= 0 and NOW < w.wpe then return true end
  if ROLL_PE > 0 and ROLL_PS <= NOW and NOW < ROLL_PE then
    ledger('ws_reset', '', '', {'overage_used', w.ov_used, 'programmatic_used', w.prog_used,
      'period_start', ROLL_PS, 'period_end', ROLL_PE})
    -- Holds still open stay counted: they count against the new period.
    w.ov_used, w.prog_used = 0, 0
    w.wps, w.wpe = ROLL_PS, ROLL_PE
    return true
  end
  return false
end

-- Account: a hash at PREFIX..'acct:'..owner, where owner is a member id, or
-- "~" followed by a spender id for programmatic usage (such accounts have
-- no credits of their own and are not stored; only their holds are).
--   seat, next     seat rank in force, pending rank for the next reset (-1: none)
--   smon           monthly allocation of the seat in force
--   nmon, nlife    monthly and lifetime allocation of the pending seat
--   ps, pe         current period [ps, pe) in ms; pe = 0: no period yet
--   s_alloc, s_spent, s_held   seat credits of the current period
--   f_alloc, f_spent, f_held   free lifetime credits
--   alloc, spent, forf, held   lifetime counters of the member's own credits:
--        alloc = available + held + spent + forf, where
--        available = (s_alloc - s_spent - s_held) + (f_alloc - f_spent - f_held)
--        and held also counts seat credits held from earlier periods
--   pcap           pool cap override (-2: none, the workspace default
--                  applies; -1: unlimited)
--   p_used, p_held pool drawn this period (spent, held), against the cap
--   ev_low         ps of the period of the last low-balance event
local ACCT_NUMS = {'seat', 'next', 'smon', 'nmon', 'nlife', 'ps', 'pe',
  's_alloc', 's_spent', 's_held', 'f_alloc', 'f_spent', 'f_held',
  'alloc', 'spent', 'forf', 'held', 'pcap', 'p_used', 'p_held', 'ev_low'}

local function acct_key(owner) return PREFIX .. 'acct:' .. owner end
local function holds_key(owner) return PREFIX .. 'holds:' .. owner end

local function acct_load(owner)
  local a, ok = hload(acct_key(owner), ACCT_NUMS)
  a.member = owner
  a.prog = string.sub(owner, 1, 1) == '~'
  a.exists = ok and not a.prog
  if not ok then a.next, a.pcap = -1, -2 end
  return a
end

local function acct_save(a)
  if a.exists then hsave(acct_key(a.member), a, ACCT_NUMS) end
end

local function avail_seat(a) return a.s_alloc - a.s_spent - a.s_held end
local function avail_free(a) return a.f_alloc - a.f_spent - a.f_held end
local function avail_own(a) return max(avail_seat(a), 0) + max(avail_free(a), 0) end

-- grant_lifetime gives the free lifetime allocation once per account.
local function grant_lifetime(a, life)
  if life > 0 and a.f_alloc == 0 then
    a.f_alloc = life
    a.alloc = a.alloc + life
    ledger('grant_free', a.member, '', {'allocated', life})
  end
end

-- roll starts the period [ps, pe): unused seat credits of the period that
-- ended are forfeited (holds of that period stay held, and are forfeited
-- when released), a pending seat change takes effect, the seat's monthly
-- allocation is granted (none in a pooled workspace), and the member's
-- pool use starts again from what its open holds still hold.
local function roll(w, a, ps, pe)
  local forfeited = 0
  if a.pe ~= 0 then
    forfeited = avail_seat(a)
    a.forf = a.forf + forfeited
  end
  if a.next >= 0 then
    a.seat, a.smon = a.next, a.nmon
    grant_lifetime(a, a.nlife)
    a.next, a.nmon, a.nlife = -1, 0, 0
  end
  local monthly = a.smon
  if w.pooled == 1 then monthly = 0 end
  a.s_alloc, a.s_spent, a.s_held = monthly, 0, 0
  a.alloc = a.alloc + monthly
  a.p_used = 0 -- pool holds still open count against the new period's cap
  a.ps, a.pe = ps, pe
  if a.exists then
    ledger('reset', a.member, '', {'forfeited', forfeited, 'allocated', monthly,
      'period_start', ps, 'period_end', pe})
  end
end

-- ready brings the workspace and the account into their current periods.
-- It returns false, having changed nothing, when a period has ended and
-- the caller did not pass the new one.
local function ready(w, a)
  local need_ws = not (w.wpe ~= 0 and NOW < w.wpe)
  local need_acct = a and a.exists and not (a.pe ~= 0 and NOW < a.pe)
  if (need_ws or need_acct) and not (ROLL_PE > 0 and ROLL_PS <= NOW and NOW < ROLL_PE) then
    return false
  end
  ws_ready(w)
  if need_acct then roll(w, a, ROLL_PS, ROLL_PE) end
  return true
end

-- idem_check returns the recorded reply of this request id, or an error
-- reply when the id was used for another request, or nil.
local function idem_check(key)
  local rec = redis.call('HMGET', key, 'fp', 'reply')
  if not rec[1] then return nil end
  if rec[1] ~= REQ_FP then return {'ERR', 'IDEM'} end
  return cjson.decode(rec[2])
end

-- idem_record records a reply under the request id.
local function idem_record(key, reply)
  redis.call('HSET', key, 'fp', REQ_FP, 'reply', cjson.encode(reply))
  redis.call('PEXPIRE', key, IDEM_TTL_MS)
  return reply
end
