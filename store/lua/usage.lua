-- usage.lua: the daily usage buckets (README, "Usage reports"), fed
-- through a queue.
--
-- A Commit does not update the buckets itself: it appends what it adds to
-- them to the workspace's list q:{ws:<id>}:usepend (usage_push: one RPUSH
-- of strings Go packed, but for the owner, charged and shortfall), and
-- usage_fold brings the buckets up to date, a bounded batch at a time:
-- the Commit whose entries bring the queue to K.FOLD_AT entries folds, as
-- its last step, at least as many entries as it queued (so the queue
-- stays below K.FOLD_AT plus one commit's entries, however large the
-- commits), the retention sweep folds a batch, and quotad folds the whole
-- queue before it reads a usage report (fn_fold_usage.lua), so that a
-- report counts every commit acknowledged before it. A batch reads and
-- writes each bucket field once, however many of its commits add to it: a
-- Commit's own work is one command, and the commits of a batch share the
-- reads and writes of the fields they have in common (the origin, the
-- agents, models and tiers).
-- Each entry is folded exactly once: a fold takes the first entries of
-- the list and removes them in the same atomic call.
--
-- Entry (queue q:{ws:<id>}:usepend): MessagePack values one after the
-- other, of one of two kinds, told apart by the first value:
--   own     owner (a member id, or K.SPENDER_MARK and a spender id: a
--           string), charged and shortfall (µcredits; 0 for a cost
--           recorded under an ancestor: it is charged with the
--           ancestor), then what Go packed: the UTC day (days since
--           1970-01-01), the origin, its token and action credits, its
--           tokens and actions, then groups;
--   more    "" (which no owner is), the day, then groups: the rest of
--           the groups of a commit that has more than one entry;
-- where groups are, for each group of the commit's usage by agent, model
-- and tier, its bucket field ("a<agent id>", "o<model>", "t<tier name>")
-- and its token credits, action credits, tokens and actions, at most
-- schema.UsageEntryGroups of them per entry.
--
-- Buckets: q:{ws:<id>}:use:<day> is a hash of one field per group, each a
-- counter of layout schema.Usage: seven MessagePack integers one after
-- the other, token and action credits, tokens, actions, commits, charged,
-- shortfall (a test checks the order). "m<owner>" (a member, or "~" and a
-- spender) and "g<origin name>" (the three of a day add up to its total)
-- get the commit's own cost, tokens and actions, one commit and what it
-- charged and left short; the agent, model and tier fields their four
-- numbers and zeros. usek:<day> indexes the day's fields (score 0: read
-- by lex range) and usedays the days (by day number, for the retention).

-- usage_fold folds the first entries of the workspace's usage queue into
-- the buckets: at most K.FOLD_ENTRIES entries, and no more once
-- K.FOLD_GROUPS groups are taken (at least one entry: fewer than
-- K.FOLD_GROUPS + schema.UsageEntryGroups + 2 groups in all). pre is the
-- workspace's key prefix. Returns how many entries it folded and whether
-- more may be queued.
local function usage_fold(pre)
  local key = pre .. 'usepend'
  local entries = redis.call('LRANGE', key, 0, K.FOLD_ENTRIES - 1)
  if #entries == 0 then return 0, false end
  -- days[day] = {fields in the order met, sums by field: {7 counters}};
  -- order: the days in the order met. The sums are added to in place
  -- (a call per field would cost more than the additions).
  local days, order = {}, {}
  local function day_of(day)
    local d = days[day]
    if not d then
      d = {fields = {}, sums = {}}
      days[day] = d
      order[#order + 1] = day
    end
    return d
  end
  local function own(d, f, x1, x2, x3, x4, x5, x6, x7)
    local t = d.sums[f]
    if t then
      t[1], t[2], t[3], t[4] = t[1] + x1, t[2] + x2, t[3] + x3, t[4] + x4
      t[5], t[6], t[7] = t[5] + x5, t[6] + x6, t[7] + x7
    else
      d.fields[#d.fields + 1] = f
      d.sums[f] = {x1, x2, x3, x4, x5, x6, x7}
    end
  end
  local done, groups = 0, 0
  for _, e in ipairs(entries) do
    if groups >= K.FOLD_GROUPS then break end
    local v = {cmsgpack.unpack(e)}
    local d, i
    if v[1] ~= '' then -- own: owner, charged, shortfall, day, origin, 4 counters
      local ch, sf, tc, ac, tk, ax = v[2], v[3], v[6], v[7], v[8], v[9]
      d, i = day_of(v[4]), 10
      own(d, K.USE_MEMBER .. v[1], tc, ac, tk, ax, 1, ch, sf)
      own(d, K.USE_ORIGIN .. K.ORIGIN_NAME[v[5]], tc, ac, tk, ax, 1, ch, sf)
      groups = groups + 2
    else -- more: "", day
      d, i = day_of(v[2]), 3
    end
    local fields, sums = d.fields, d.sums
    for j = i, #v, 5 do
      local f = v[j]
      local t = sums[f]
      if t then
        t[1], t[2], t[3], t[4] = t[1] + v[j + 1], t[2] + v[j + 2], t[3] + v[j + 3], t[4] + v[j + 4]
      else
        fields[#fields + 1] = f
        sums[f] = {v[j + 1], v[j + 2], v[j + 3], v[j + 4], 0, 0, 0}
      end
    end
    groups = groups + (#v - i + 1) / 5
    done = done + 1
  end
  for _, day in ipairs(order) do
    local d, ds = days[day], fmt(day)
    local bkey = pre .. 'use:' .. ds
    local fields = d.fields
    for c = 1, #fields, 1000 do -- unpack takes a few thousand values at most
      local last = min(c + 999, #fields)
      local cur = redis.call('HMGET', bkey, unpack(fields, c, last))
      local kv, new = {}, {}
      for i = c, last do
        local f = fields[i]
        local t = d.sums[f]
        local x1, x2, x3, x4, x5, x6, x7 = t[1], t[2], t[3], t[4], t[5], t[6], t[7]
        local s = cur[i - c + 1]
        if s then
          local y1, y2, y3, y4, y5, y6, y7 = cmsgpack.unpack(s)
          x1, x2, x3, x4, x5, x6, x7 = x1 + y1, x2 + y2, x3 + y3, x4 + y4, x5 + y5, x6 + y6, x7 + y7
        else
          new[#new + 1] = 0
          new[#new + 1] = f
        end
        kv[#kv + 1] = f
        kv[#kv + 1] = cmsgpack.pack(x1, x2, x3, x4, x5, x6, x7)
      end
      redis.call('HSET', bkey, unpack(kv))
      if #new > 0 then
        redis.call('ZADD', pre .. 'usek:' .. ds, unpack(new))
        redis.call('ZADD', pre .. 'usedays', ds, ds)
      end
    end
  end
  redis.call('LTRIM', key, done, -1)
  return done, done < #entries or #entries == K.FOLD_ENTRIES
end

-- usage_push queues what the commit of r adds to the usage buckets: own is
-- Go's part of its first entry (args[12] of a Commit), and the arguments
-- from index i on its other entries (none for most commits). It returns
-- how many entries the commit must fold before it answers (0 until the
-- queue holds K.FOLD_AT entries): as many as it queued, so that the queue
-- never grows, however large the commits.
local function usage_push(u, r, charged, sf, own, args, i)
  local first = cmsgpack.pack(r.owner, charged, sf) .. own
  local n
  if #args >= i then
    n = redis.call('RPUSH', u.pre .. 'usepend', first, unpack(args, i, #args))
  else
    n = redis.call('RPUSH', u.pre .. 'usepend', first)
  end
  if n < K.FOLD_AT then return 0 end
  return #args - i + 2
end

-- usage_fold_due folds at least want entries of the queue (usage_push's
-- result), a batch at a time; the Commit calls it last, once everything
-- else it writes is written.
local function usage_fold_due(u, want)
  while want > 0 do
    local n, more = usage_fold(u.pre)
    if n == 0 or not more then return end
    want = want - n
  end
end
