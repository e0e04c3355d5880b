-- fn_list_holds.lua: a page of a workspace's held reservations, earliest
-- deadline first (then by key), from the deadlines index: those past
-- their deadline whose hold no call has released yet included, flagged
-- due. Optionally of one owner. Changes nothing (no release: a read of
-- the list leaves that to the calls and the sweeper), so it is a script
-- only to read the index position, the records and their runs' roots in
-- one consistent step and to reply with what GetReservation derives.
-- The page starts after a position (deadline, key): where that entry left
-- the index, the first entry after it is found by binary search among the
-- entries of that deadline. It reads at most budget index entries and
-- returns at most page size reservations.
-- uses: core account pool hold
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..2] common; [8] the deadline (ms) after which to start, with
-- [9] the key (hex) of that entry ("": from the first); [10] the owner
-- ("": every owner); [11] page size; [12] budget of index entries.
-- Reply: {OK, more (1/0), the deadline and the hex of the last entry
-- read, n, {due (1/0), K.R...} n times}; {ERR, E_WS_NOT_FOUND}.
local function list_holds(keys, args)
  local u = unit(keys, args)
  if not ws_get(u) then return err_reply(K.E_WS_NOT_FOUND) end
  local key = u.pre .. 'deadlines'
  local owner, limit, budget = args[10], tonumber(args[11]), tonumber(args[12])
  local pos = 0
  if args[9] ~= '' then
    local dl, hex = tonumber(args[8]), args[9]
    local sc = redis.call('ZSCORE', key, hex)
    if sc and tonumber(sc) == dl then
      pos = redis.call('ZRANK', key, hex) + 1
    else
      local lo = redis.call('ZCOUNT', key, '-inf', '(' .. args[8])
      local hi = redis.call('ZCOUNT', key, '-inf', args[8])
      while lo < hi do -- ranks [lo, hi) have deadline dl, by key
        local mid = math.floor((lo + hi) / 2)
        if redis.call('ZRANGE', key, mid, mid)[1] <= hex then lo = mid + 1 else hi = mid end
      end
      pos = lo
    end
  end
  local out, n, read, last_dl, last_hex = {K.OK, 0, 0, '', 0}, 0, 0, 0, ''
  while n < limit and read < budget do
    local want = min(limit - n, budget - read)
    if owner ~= '' then want = budget - read end
    want = min(want, 256) -- one MGET per 256 entries
    local page = redis.call('ZRANGE', key, pos, pos + want - 1, 'WITHSCORES')
    local specs = {}
    for i = 1, #page, 2 do
      specs[#specs + 1] = u.pre .. 'res:' .. page[i]
      specs[#specs + 1] = K.L_RES
    end
    preload(u, specs)
    for i = 1, #page, 2 do
      local r = res_get(u, page[i])
      read, pos, last_hex, last_dl = read + 1, pos + 1, page[i], tonumber(page[i + 1])
      if r and r.state == K.HELD and (owner == '' or r.owner == owner) then
        out[#out + 1] = r.dl <= u.now and 1 or 0
        put_res(out, u, r)
        n = n + 1
        if n == limit then break end
      end
    end
    if #page < 2 * want then break end
  end
  out[2] = pos < redis.call('ZCARD', key) and 1 or 0
  out[3], out[4], out[5] = last_dl, last_hex, n
  return out
end
