-- fn_list_members.lua: a page of a workspace's members table, by member
-- id, each with the balance of the current period, as GetBalance reads it:
-- periods are rolled over first (every account shares the workspace's
-- anchor, so one new period serves the whole page; nothing changes
-- before every account is known to be ready), then expired holds are
-- released (the workspace's oldest, up to K.EXPIRE_PER_CALL and
-- K.EXPIRE_MORE, as any read). The members index q:{ws:<id>}:members (a
-- zset of member ids, score 0) is filled by roll (account.lua). Bounded by
-- the page size.
-- uses: core account pool hold
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..4] common (no request id); [8] the member id after which to
-- start ("": from the first); [9] page size.
-- Reply: {OK, next (the last member id of the page when more follow, else
-- ""), n, {member id, K.B...} n times}; {ERR, E_WS_NOT_FOUND};
-- {ROLL, anchor}.
local function list_members(keys, args)
  local u = unit(keys, args)
  local limit = tonumber(args[9])
  local lo = '-'
  if args[8] ~= '' then lo = '(' .. args[8] end
  local ids = redis.call('ZRANGEBYLEX', u.pre .. 'members', lo, '+', 'LIMIT', '0', fmt(limit + 1))
  local n = min(#ids, limit)
  local specs = {u.kws, K.L_WS}
  for i = 1, n do
    specs[#specs + 1] = u.pre .. 'acct:' .. ids[i]
    specs[#specs + 1] = K.L_ACCT
  end
  preload(u, specs)
  local w = ws_get(u)
  if not w then return err_reply(K.E_WS_NOT_FOUND) end
  local stale, _, passed = period_due(u, w, nil)
  local accts = {}
  for i = 1, n do
    accts[i] = acct_get(u, ids[i])
    local _, need = period_due(u, w, accts[i])
    stale = stale or need
  end
  if stale and not passed then return {K.ROLL, w.anchor} end
  ready(u, w, nil)
  for i = 1, n do ready(u, w, accts[i]) end
  pool_tick(u, w, K.GRANT_STEPS)
  local _, more = expire_due(u, w, nil, K.EXPIRE_PER_CALL)
  u.more = more
  catch_up(u, w, nil)
  for i = 1, n do events(u, w, accts[i]) end
  flush(u)
  local next = ''
  if #ids > limit then next = ids[limit] end
  local out = {K.OK, next, n}
  for i = 1, n do
    out[#out + 1] = ids[i]
    put_balance(out, w, accts[i])
  end
  return out
end
