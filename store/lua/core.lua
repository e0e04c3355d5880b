-- core.lua: what every entry point starts from: the unit of work, the
-- record codec, the ledger, idempotency records and reply building.
--
-- Records. Every record is one Redis string: the MessagePack values of
-- the fields of its layout, one after the other (gen_const.lua, generated from
-- store/internal/schema, has each layout's codec), so no number goes
-- through text. A record is read once per call into a table, changed in
-- place, and written back once by flush: the unit of work below keeps
-- every record it met, so the several records of one run or account stay
-- coherent however many times a call touches them. Numbers go to Redis
-- commands and replies as Lua numbers: Redis writes integers below 2^53
-- exactly.
--
-- Conventions shared by every entry point:
--   * every amount is an integer of µcredits held in a Lua number (a
--     double): the API bounds amounts so that every sum stays below 2^53,
--     so the arithmetic is exact;
--   * every time is Unix milliseconds passed in by quotad (never the Redis
--     clock), so that tests can move time;
--   * numbers come as decimal text, except on the hot paths (Reserve,
--     Commit), which take theirs packed, MessagePack integers one after
--     the other in one argument (store.packInts), read with one
--     cmsgpack.unpack: a tonumber of text costs Redis ~1.5k instructions;
--   * every key of a workspace starts with the prefix "q:{ws:<id>}:", so
--     a call touches one cluster slot; the keys met along the way are
--     built from it;
--   * a reply is {K.OK, <layout values>...}, or {K.PACKED, s...} (for a
--     request id met before {K.PACKED_REPLAY, s...}) where the strings s,
--     in order, hold those values as MessagePack one after the other
--     (packed),
--     {K.ERR, code, args...}, or {K.ROLL, anchor} when the
--     workspace's or the member's billing period has ended and Go must
--     pass the new period's bounds (computed by package quota) in args[3]
--     and args[4].
--
-- Common args: [1] now (ms), [2] key prefix, [3] new period start (ms or
-- 0), [4] new period end (ms or 0), [5] request id, [6] request
-- fingerprint, [7] the key a Reserve with this request id would have made
-- (a reservation's hex key; "" for reads).

-- fmt spells an integer (an amount, a time, a count) for a Redis command
-- or a key, exactly below 2^53 (Redis would format a Lua number with
-- printf's %.17g); the strings of small ones (limits, page sizes) are
-- kept.
local FMT = {}
local function fmt(n)
  local s = FMT[n]
  if not s then
    s = string.format('%.0f', n)
    if n >= 0 and n <= 10000 then FMT[n] = s end
  end
  return s
end

local function min(a, b)
  if a < b then return a end
  return b
end

local function max(a, b)
  if a > b then return a end
  return b
end

-- append appends its other arguments to out, in order, and returns out.
local function append(out, ...)
  local n = #out
  for i = 1, select('#', ...) do out[n + i] = (select(i, ...)) end
  return out
end

-- packed is the reply {status, a[, b]} of a call whose values, in the
-- order of their layouts, are the MessagePack values one after the other
-- of a and then b, each cmsgpack.pack of a part (Go reads the parts in
-- order: no concatenation here). One string per part crosses to Redis's
-- reply instead of a value each. status is K.PACKED, or K.PACKED_REPLAY
-- for a request id met before.
local function packed(status, a, b)
  return {status, a, b}
end

-- unit starts a unit of work: the call's arguments and the records met.
-- kws and kidem are the keys of the workspace and of the request's
-- idempotency record, built once. Its 15 fields and u.more (open_ws) fill
-- the 16 slots Lua gives the table: one more field set on every call costs
-- a rehash, ~4k Redis instructions a call (measured): pass such a value as
-- an argument instead.
local function unit(keys, args)
  local rps, rpe = 0, 0 -- "0" unless the call answers a ROLL (whose end is never 0): no tonumber then
  if args[4] ~= '0' then rps, rpe = tonumber(args[3]) or 0, tonumber(args[4]) or 0 end
  local pre, req = args[2], args[5] or ''
  return {now = tonumber(args[1]), nows = args[1], pre = pre, rps = rps,
    rpe = rpe, req = req, fp = args[6] or '', rhex = args[7] or '', keys = keys, args = args,
    recs = {}, raw = {}, dirty = {}, kws = pre .. 'ws', kidem = pre .. 'idem:' .. req}
end

-- touch marks a record to be written by flush.
local function touch(u, t)
  if not t._d then
    t._d = true
    u.dirty[#u.dirty + 1] = t
  end
end

-- rec reads the record of layout L at key once per call; nil when it
-- does not exist.
local function rec(u, key, L)
  local t = u.recs[key]
  if t ~= nil then return t or nil end
  local s = redis.call('GET', key)
  if s then
    t = L.dec(s)
    t._k, t._L, t._raw = key, L, s
  else
    t = false
  end
  u.recs[key] = t
  return t or nil
end

-- preload reads several records (and the raw values of other keys) in one
-- MGET, so that the rec calls that follow find them: specs is a flat list
-- key, layout, key, layout, ... (layout false: a raw value, kept in
-- u.raw[key]; flat, so that a read costs no table per key). Keys that are
-- cached already are skipped.
local function preload(u, specs)
  -- Sized for the hot paths' four keys at once: a table grown one key at
  -- a time is rehashed at every power of two.
  local keys, ls, n = {false, false, false, false}, {false, false, false, false}, 0
  for i = 1, #specs, 2 do
    local k, L = specs[i], specs[i + 1]
    if u.recs[k] == nil and (L or u.raw[k] == nil) then
      n = n + 1
      keys[n], ls[n] = k, L
    end
  end
  if n == 0 then return end
  local vals = redis.call('MGET', unpack(keys, 1, n))
  for i = 1, n do
    local k, s, L = keys[i], vals[i], ls[i]
    if not L then
      u.raw[k] = s
    elseif s then
      local t = L.dec(s)
      t._k, t._L, t._raw = k, L, s
      u.recs[k] = t
    else
      u.recs[k] = false
    end
  end
end

-- rec_raw is a record as stored: what the call read or last wrote, for a
-- reply to carry.
local function rec_raw(t)
  if t._d or not t._raw then t._raw = t._L.enc(t) end
  return t._raw
end

-- rec_new makes a record at key from the table t (every field of L set).
local function rec_new(u, key, L, t)
  t._k, t._L = key, L
  u.recs[key] = t
  touch(u, t)
  return t
end

-- flush writes every record changed by the call, in one MSET. When the
-- call changed when live grants start or end (u.gtimes, set by pool.lua),
-- it first sets the workspace's next grant transition (g_next) from
-- gtimes, so that no entry point can leave it stale.
local function flush(u)
  if u.gtimes then
    local w = u.recs[u.kws]
    local first = redis.call('ZRANGE', u.pre .. 'gtimes', 0, 0, 'WITHSCORES')
    w.g_next = tonumber(first[2]) or 0
    u.gtimes = false
    touch(u, w)
  end
  local n = #u.dirty
  if n == 0 then return end
  local kv = {}
  for i, t in ipairs(u.dirty) do
    t._raw = t._L.enc(t)
    kv[2 * i - 1], kv[2 * i] = t._k, t._raw
    t._d = false
  end
  if n == 1 then
    redis.call('SET', kv[1], kv[2])
  elseif n <= 1000 then
    redis.call('MSET', unpack(kv))
  else
    -- unpack has room for ~8,000 values: a root that voided its run's
    -- children wrote up to 2 × 257 records and their accounts.
    for i = 1, 2 * n, 2000 do redis.call('MSET', unpack(kv, i, min(i + 1999, 2 * n))) end
  end
  for i = n, 1, -1 do u.dirty[i] = nil end
end

-- xadd appends to a stream with an id at quotad's clock, so that entries
-- can be read and trimmed by quotad's time. When the stream already holds
-- a later id (another replica's clock is ahead), the entry goes right
-- after it.
local function xadd(u, key, fields, n)
  n = n or #fields
  local res = redis.pcall('XADD', key, u.nows .. '-*', unpack(fields, 1, n))
  if type(res) == 'table' and res.err then
    local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
    local ms = string.match(last[1][1], '^(%d+)')
    redis.call('XADD', key, ms .. '-*', unpack(fields, 1, n))
  end
end

-- ledger appends one entry to the workspace's ledger: op, the account's
-- owner, the reservation (public id), the request id, then the pairs of
-- kv whose value is not 0 or "".
local function ledger(u, op, owner, res, kv)
  -- One table, sized once: the entry's own fields, then kv's.
  local f, n = {'op', op, false, false, false, false, false, false}, 2
  if owner and owner ~= '' then f[3], f[4], n = 'member', owner, 4 end
  if res and res ~= '' then f[n + 1], f[n + 2], n = 'res', res, n + 2 end
  if u.req ~= '' then f[n + 1], f[n + 2], n = 'req', u.req, n + 2 end
  for i = 1, #kv, 2 do
    local v = kv[i + 1]
    if v ~= 0 and v ~= '' and v ~= nil then
      f[n + 1], f[n + 2], n = kv[i], v, n + 2
    end
  end
  xadd(u, u.pre .. 'ledger', f, n)
end

-- Idempotency records: q:{...}:idem:<request id> = "<fingerprint>|<outcome>",
-- kept K.IDEM_TTL_MS_S. The outcome is "K" for a success (the reply is
-- rebuilt from the records it names) or "E,<code>,<args>" for an error
-- that is answered the same way again (a denial, an illegal transition).

-- idem_get returns the outcome recorded under this request id (nil: none),
-- or false when the id was used for a different request, here or by a
-- Reserve (whose reservation is its record; own: the caller is that
-- Reserve, which checked it already).
local function idem_get(u, own)
  if u.req == '' then return nil end
  local key = u.kidem
  local s = u.raw[key]
  if s == nil then s = redis.call('GET', key) end
  if s then
    local fp, out = string.match(s, '^([^|]*)|(.*)$')
    if fp ~= u.fp then return false end
    return out
  end
  if not own and u.rhex ~= '' then
    local rkey = u.pre .. 'res:' .. u.rhex
    local v = u.recs[rkey]
    if v == nil then v = u.raw[rkey] end
    if v == nil then v = redis.call('EXISTS', rkey) == 1 end
    if v then return false end
  end
  return nil
end

-- idem_put records the outcome of this request id.
local function idem_put(u, outcome)
  if u.req == '' then return end
  redis.call('SET', u.kidem, u.fp .. '|' .. outcome, 'PX', K.IDEM_TTL_MS_S)
end

-- err_reply builds {K.ERR, code, args...}.
local function err_reply(code, ...)
  return {K.ERR, code, ...}
end

-- err_record records an error outcome under the request id and returns
-- its reply. Its arguments are numbers or ids (no commas).
local function err_record(u, code, ...)
  local out = {K.ERR, code, ...}
  local parts = {'E'}
  for i = 2, #out do
    local v = out[i]
    if type(v) == 'number' then v = fmt(v) end
    parts[#parts + 1] = v
  end
  idem_put(u, table.concat(parts, ','))
  return out
end

-- err_replay turns a recorded error outcome back into its reply: numbers
-- come back as numbers, text as text.
local function err_replay(outcome)
  local out, pos = {K.ERR}, 3 -- after "E,"
  while true do
    local j = string.find(outcome, ',', pos, true)
    local v = string.sub(outcome, pos, (j or 0) - 1)
    out[#out + 1] = tonumber(v) or v
    if not j then break end
    pos = j + 1
  end
  return out
end

