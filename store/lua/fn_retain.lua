-- fn_retain.lua: enforce a workspace's retentions. Settled runs whose root
-- settled before a cutoff are deleted: the root, every child (run:<hex>)
-- and their indexes, at most a given number of reservations per call (and
-- the root of the last run), so that no call runs long: a run larger than
-- that is deleted over several calls, its children first, the last made
-- first (each deleted child leaves its run index in the same call), its
-- root and the run index last. The ledger and the events streams are
-- trimmed to the entries after their cutoffs, but never past an entry that a consumer
-- group of the stream has not acknowledged yet (delivered and pending, or
-- not delivered yet): an exporter reading the stream never misses one.
-- The first trim of the ledger sets ledger_trimmed (the time, ms): from
-- then on audits no longer replay the ledger.
-- The usage buckets of the days before a cutoff day are deleted, oldest
-- first, a bounded number of days per call (usedays, the index of the
-- days that have buckets, is the cursor; UNLINK frees a large hash
-- outside the call). A batch of the usage queue is folded into the
-- buckets first (usage.lua), so that it never waits for a report.
-- uses: core usage
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..2] common; [8] runs cutoff (ms): roots settled before it are
-- deleted; [9] the most reservations to delete; [10] ledger cutoff (ms); [11]
-- events cutoff (ms); [12] usage cutoff (a UTC day number: the buckets of
-- days before it are deleted); [13] the most days to delete. A cutoff of
-- 0 keeps everything.
-- Reply: {runs deleted, more runs due (1/0: a run left part-deleted, or
-- more settled before the cutoff), ledger entries trimmed,
-- events trimmed, streams held above their cutoff by a consumer group,
-- usage days deleted, more days due (1/0)}.

-- id_lt tells whether stream id a ("ms-seq") is before b.
local function id_lt(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end

-- keep_from returns the first id a consumer group of the stream at key
-- still needs (nil: none): its oldest pending entry, else the entry after
-- the last one it was delivered.
local function keep_from(key)
  local first
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', key)) do
    local f = {}
    for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
    local need
    if tonumber(f['pending']) and tonumber(f['pending']) > 0 then
      local p = redis.call('XPENDING', key, f['name'])
      need = p[2]
    else
      local ms, seq = string.match(f['last-delivered-id'], '^(%d+)-(%d+)$')
      need = ms .. '-' .. fmt(tonumber(seq) + 1)
    end
    if not first or id_lt(need, first) then first = need end
  end
  return first
end

-- trim trims the stream at key to the entries from cutoff (ms) on, or
-- from what a consumer group still needs, 2 × K.TRIM_PER_CALL entries at
-- most (and one node). Returns the entries trimmed and
-- whether a group held the stream above its cutoff.
local function trim(key, cutoff)
  if cutoff <= 0 or redis.call('EXISTS', key) == 0 then return 0, false end
  local minid = string.format('%.0f-0', cutoff)
  local need = keep_from(key)
  local held = false
  if need and id_lt(need, minid) then
    -- A group still needs an entry before the cutoff, if the stream holds
    -- one at or after need (need may be past the last entry: it needs
    -- nothing yet).
    local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
    if #last > 0 and not id_lt(last[1][1], need) then
      minid, held = need, true
    end
  end
  -- Whole nodes first, K.TRIM_PER_CALL entries at most, twice (a
  -- backlog goes over several calls). Once no whole node before minid is
  -- left, what is left before it is in one node, which the exact trim
  -- cuts into: bounded while a node holds at most K.TRIM_PER_CALL
  -- entries (Redis's stream-node-max-entries: 100 by default; README).
  local n = redis.call('XTRIM', key, 'MINID', '~', minid, 'LIMIT', K.TRIM_PER_CALL)
  if n > 0 then
    local more = redis.call('XTRIM', key, 'MINID', '~', minid, 'LIMIT', K.TRIM_PER_CALL)
    n = n + more
    if more > 0 then return n, held end
  end
  return n + redis.call('XTRIM', key, 'MINID', minid), held
end

local function retain(keys, args)
  local u = unit(keys, args)
  usage_fold(u.pre)
  local cutoff, budget = tonumber(args[8]), tonumber(args[9])
  local runs, more = 0, false
  if cutoff > 0 and budget > 0 then
    local settled = u.pre .. 'settled'
    -- Every run costs one reservation of the budget at least.
    local ids = redis.call('ZRANGEBYSCORE', settled, '-inf', '(' .. fmt(cutoff), 'LIMIT', 0, budget + 1)
    local i = 0
    while i < #ids and budget > 0 do
      i = i + 1
      local hex = ids[i]
      local s = redis.call('GET', u.pre .. 'res:' .. hex)
      if not s or K.L_RES.dec(s).state ~= K.HELD then
        local run = u.pre .. 'run:' .. hex
        -- The last made first: a reservation goes after its descendants,
        -- so that a run left part-deleted still shows each one under
        -- its ancestors (ListRunCosts).
        local kids = redis.call('ZREVRANGE', run, 0, budget - 1)
        for _, kid in ipairs(kids) do
          redis.call('DEL', u.pre .. 'res:' .. kid, u.pre .. 'kids:' .. kid)
        end
        budget = budget - #kids
        if #kids > 0 then redis.call('ZREMRANGEBYRANK', run, -#kids, -1) end
        if budget <= 0 and redis.call('EXISTS', run) == 1 then
          -- Children are left: the next call goes on with this run.
          more = true
          break
        end
        redis.call('DEL', u.pre .. 'res:' .. hex, u.pre .. 'kids:' .. hex, run)
        budget = budget - 1
        runs = runs + 1
      end
      redis.call('ZREM', settled, hex)
    end
    more = more or i < #ids
  end
  local nl, hl = trim(u.pre .. 'ledger', tonumber(args[10]))
  -- Audits replay the ledger only while it holds the whole history.
  if nl > 0 then redis.call('SET', u.pre .. 'ledger_trimmed', u.nows) end
  local ne, he = trim(u.pre .. 'events', tonumber(args[11]))
  local held = 0
  if hl then held = held + 1 end
  if he then held = held + 1 end
  local days, more_days = 0, false
  local ucut, ulimit = tonumber(args[12]) or 0, tonumber(args[13]) or 0
  if ucut > 0 and ulimit > 0 then
    local ids = redis.call('ZRANGEBYSCORE', u.pre .. 'usedays', '-inf', '(' .. args[12], 'LIMIT', 0, ulimit + 1)
    more_days = #ids > ulimit
    for i = 1, min(#ids, ulimit) do
      redis.call('UNLINK', u.pre .. 'use:' .. ids[i], u.pre .. 'usek:' .. ids[i])
      redis.call('ZREM', u.pre .. 'usedays', ids[i])
      days = days + 1
    end
  end
  return {runs, more and 1 or 0, nl, ne, held, days, more_days and 1 or 0}
end
