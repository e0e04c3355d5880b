-- lib.lua: helpers shared by every script. The Go side prepends this file to
-- each script before wrapping it in redis.NewScript, so each script is still
-- one atomic EVALSHA.
--
-- Conventions shared by all scripts:
--   * every amount is an integer of µcredits held in a Lua number (a double):
--     the API bounds amounts so that every sum stays below 2^53, so the
--     arithmetic is exact; amounts leave Lua as decimal strings (fmt);
--   * every time is Unix milliseconds, passed in by quotad (never read from
--     the Redis clock), so tests can move time;
--   * every key of a workspace starts with the prefix "q:{ws:<id>}:" (ARGV[2])
--     so that a script touches one cluster slot. Keys of reservations and of
--     accounts met while releasing holds are built from that prefix;
--   * a script replies with a flat array of strings: {"OK", k1, v1, ...},
--     {"ERR", code, ...}, or {"ROLL", anchor_ms} when the member's billing
--     period has ended and the caller must pass the new period's bounds
--     (computed in Go, package quota) as ARGV[3] and ARGV[4];
--   * mutations record their reply under the request's idempotency key, with
--     the request's fingerprint, in the same step as the change; a retry
--     with the same fingerprint gets the recorded reply and changes nothing.
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
local function hload(key, nums)
  local raw = redis.call('HGETALL', key)
  local t = {}
  for i = 1, #raw, 2 do
    t[raw[i]] = raw[i + 1]
  end
  for _, f in ipairs(nums) do
    t[f] = tonumber(t[f]) or 0
  end
  return t, #raw > 0
end

-- hsave writes the listed fields of t to a hash.
local function hsave(key, t, fields)
  local args = {}
  for _, f in ipairs(fields) do
    local v = t[f]
    if type(v) == 'number' then v = fmt(v) end
    args[#args + 1] = f
    args[#args + 1] = v or ''
  end
  redis.call('HSET', key, unpack(args))
end

-- Account of a member: a hash at PREFIX..'acct:'..member.
--   seat, next     seat rank in force, pending rank for the next reset (-1: none)
--   smon           monthly allocation of the seat in force
--   nmon, nlife    monthly and lifetime allocation of the pending seat
--   ps, pe         current period [ps, pe) in ms; pe = 0: no period yet
--   s_alloc, s_spent, s_held   seat credits of the current period
--   f_alloc, f_spent, f_held   free lifetime credits
--   alloc, spent, forf, held   lifetime counters:
--        alloc = available + held + spent + forf, where
--        available = (s_alloc - s_spent - s_held) + (f_alloc - f_spent - f_held)
--        and held also counts holds taken in earlier periods.
local ACCT_NUMS = {'seat', 'next', 'smon', 'nmon', 'nlife', 'ps', 'pe',
  's_alloc', 's_spent', 's_held', 'f_alloc', 'f_spent', 'f_held',
  'alloc', 'spent', 'forf', 'held'}

local function acct_key(member) return PREFIX .. 'acct:' .. member end
local function holds_key(member) return PREFIX .. 'holds:' .. member end
local function res_key(id) return PREFIX .. 'res:' .. id end
local DEADLINES = PREFIX .. 'deadlines'
local LEDGER = PREFIX .. 'ledger'

local function acct_load(member)
  local a, ok = hload(acct_key(member), ACCT_NUMS)
  a.member = member
  a.exists = ok
  if not ok then a.next = -1 end
  return a
end

local function acct_save(a)
  if a.exists then hsave(acct_key(a.member), a, ACCT_NUMS) end
end

local function avail_seat(a) return a.s_alloc - a.s_spent - a.s_held end
local function avail_free(a) return a.f_alloc - a.f_spent - a.f_held end

-- ledger appends one entry to the workspace's ledger stream. kv is a flat
-- list of field, value (numbers are rendered with fmt).
local function ledger(op, member, res, kv)
  local args = {'XADD', LEDGER, '*', 'op', op, 'ts', fmt(NOW), 'member', member or '',
    'res', res or '', 'req', REQ_ID}
  for i = 1, #kv do
    local v = kv[i]
    if type(v) == 'number' then v = fmt(v) end
    args[#args + 1] = v
  end
  redis.call(unpack(args))
end

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
-- when released), a pending seat change takes effect, and the seat's
-- monthly allocation is granted.
local function roll(a, ps, pe)
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
  a.s_alloc, a.s_spent, a.s_held = a.smon, 0, 0
  a.alloc = a.alloc + a.smon
  a.ps, a.pe = ps, pe
  if a.exists then
    ledger('reset', a.member, '', {'forfeited', forfeited, 'allocated', a.smon,
      'period_start', ps, 'period_end', pe})
  end
end

-- ready brings the account into the current period. It returns false when
-- the period has ended and the caller did not pass the new one.
local function ready(a)
  if a.pe ~= 0 and NOW < a.pe then return true end
  if ROLL_PE > 0 and ROLL_PS <= NOW and NOW < ROLL_PE then
    roll(a, ROLL_PS, ROLL_PE)
    return true
  end
  return false
end

-- Reservation: a hash at PREFIX..'res:'..id.
--   member, origin, state, rq (reserving request id), cost (JSON, committed)
--   req        amount asked for (raised by Extend)
--   h_seat     seat credits held, of the period starting at h_ps
--   h_old      seat credits held from an earlier period (forfeited if released)
--   h_free     free lifetime credits held
--   dl, ct, st deadline, creation and settle times (ms)
--   ch, chh    charged in all, of which from the hold
--   c_seat, c_free  charged per source (hold and beyond)
--   rel, sf    released (or forfeited) at settlement; shortfall
local RES_NUMS = {'origin', 'state', 'req', 'h_seat', 'h_old', 'h_free', 'h_ps',
  'dl', 'ct', 'st', 'ch', 'chh', 'c_seat', 'c_free', 'rel', 'sf'}
local RES_FIELDS = {'member', 'rq', 'cost', 'origin', 'state', 'req', 'h_seat', 'h_old',
  'h_free', 'h_ps', 'dl', 'ct', 'st', 'ch', 'chh', 'c_seat', 'c_free', 'rel', 'sf'}

local function res_load(id)
  local r, ok = hload(res_key(id), RES_NUMS)
  r.id = id
  return r, ok
end

local function res_save(r)
  hsave(res_key(r.id), r, RES_FIELDS)
end

local function res_held(r) return r.h_seat + r.h_old + r.h_free end

-- normalize moves a hold's seat credits of an ended period to h_old.
local function normalize(r, a)
  if r.h_ps ~= a.ps then
    r.h_old = r.h_old + r.h_seat
    r.h_seat = 0
    r.h_ps = a.ps
  end
end

-- settle charges used µcredits from a hold (earlier-period seat credits
-- first, then seat, then free) and releases the rest: back to the account,
-- or forfeited for seat credits of an ended period. It empties the hold and
-- returns the charge per source, what was released and what of that was
-- forfeited.
local function settle(r, a, used)
  normalize(r, a)
  local u_old = min(used, r.h_old)
  local u_seat = min(used - u_old, r.h_seat)
  local u_free = min(used - u_old - u_seat, r.h_free)
  local forfeited = r.h_old - u_old
  local released = res_held(r) - u_old - u_seat - u_free
  a.s_held = a.s_held - r.h_seat
  a.s_spent = a.s_spent + u_seat
  a.f_held = a.f_held - r.h_free
  a.f_spent = a.f_spent + u_free
  a.held = a.held - res_held(r)
  a.spent = a.spent + u_old + u_seat + u_free
  a.forf = a.forf + forfeited
  r.h_seat, r.h_old, r.h_free = 0, 0, 0
  return u_old + u_seat, u_free, released, forfeited
end

local function unindex(r)
  redis.call('ZREM', holds_key(r.member), r.id)
  redis.call('ZREM', DEADLINES, r.id)
end

-- expire releases a held reservation whose deadline has passed.
local function expire(r, a)
  local _, _, released, forfeited = settle(r, a, 0)
  r.state, r.st, r.rel = EXPIRED, r.dl, released
  res_save(r)
  unindex(r)
  ledger('expire', r.member, r.id, {'released', released, 'forfeited', forfeited})
end

-- expire_due releases every hold of the account whose deadline is <= now.
local function expire_due(a)
  local ids = redis.call('ZRANGEBYSCORE', holds_key(a.member), '-inf', NOW)
  for _, id in ipairs(ids) do
    local r, ok = res_load(id)
    if ok and r.state == HELD then
      expire(r, a)
    else
      redis.call('ZREM', holds_key(a.member), id)
      redis.call('ZREM', DEADLINES, id)
    end
  end
end

-- draw takes up to want from the sources in order, as holds (hold = true)
-- or as spending. Returns the amount per source.
local function draw(a, want, hold)
  local d_seat = min(want, max(avail_seat(a), 0))
  local d_free = min(want - d_seat, max(avail_free(a), 0))
  if hold then
    a.s_held = a.s_held + d_seat
    a.f_held = a.f_held + d_free
    a.held = a.held + d_seat + d_free
  else
    a.s_spent = a.s_spent + d_seat
    a.f_spent = a.f_spent + d_free
    a.spent = a.spent + d_seat + d_free
  end
  return d_seat, d_free
end

-- denial builds the reply for a hold that cannot be taken, with the reason
-- in precedence order: no seat and no credits, then credits exhausted.
local function denial(a, want, least)
  local avail = 0
  if a.exists then avail = max(avail_seat(a), 0) + max(avail_free(a), 0) end
  local reason = 'CREDITS_EXHAUSTED'
  if (not a.exists or a.seat == 0) and avail == 0 then reason = 'NO_SEAT' end
  return {'ERR', 'DENIED', reason, fmt(want), fmt(least), fmt(avail), a.member}
end

-- Reply building.
local function out_acct(out, a)
  local fields = {'seat', 'next', 'ps', 'pe', 's_alloc', 's_spent', 's_held',
    'f_alloc', 'f_spent', 'f_held', 'alloc', 'spent', 'forf', 'held'}
  out[#out + 1] = 'b.exists'
  out[#out + 1] = a.exists and '1' or '0'
  for _, f in ipairs(fields) do
    out[#out + 1] = 'b.' .. f
    out[#out + 1] = fmt(a[f])
  end
  return out
end

local function out_res(out, r)
  out[#out + 1] = 'r.id'
  out[#out + 1] = r.id
  for _, f in ipairs(RES_FIELDS) do
    local v = r[f]
    if type(v) == 'number' then v = fmt(v) end
    out[#out + 1] = 'r.' .. f
    out[#out + 1] = v or ''
  end
  return out
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

-- workspace_anchor returns the workspace's anchor (ms) or nil.
local function workspace_anchor()
  return redis.call('HGET', PREFIX .. 'ws', 'anchor')
end
