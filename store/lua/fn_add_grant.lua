-- fn_add_grant.lua: add a grant to a workspace's pool. Its id is "g" and
-- its creation number, which also orders grants oldest first.
-- uses: core account pool
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..7] common; [8] kind (quota.GrantKind); [9] amount (µcredits);
-- [10] start (ms); [11] expiry (ms); [12] priority.
-- Reply: {OK, K.G...}; {ERR, E_LIMIT, limit} when the pool would pass
-- K.MAX_POOL granted in all or K.MAX_POOL_GRANTS live grants (gtimes
-- holds every live grant); {ERR, E_WS_NOT_FOUND}; {ERR, E_IDEM}.
local function add_grant(keys, args)
  local u = unit(keys, args)
  local prev = idem_get(u)
  if prev == false then return err_reply(K.E_IDEM) end
  local w = ws_get(u)
  if not w then return err_reply(K.E_WS_NOT_FOUND) end
  if prev then
    local g = grant_get(u, string.match(prev, '^K,(.*)$'))
    return put_grant({K.OK}, u, g)
  end
  -- Grants due to end end first, so that they make room (their writes
  -- are flushed even when the grant is then refused).
  pool_tick(u, w, K.GRANT_STEPS)
  local amount, limit = tonumber(args[9]), nil
  if w.p_granted + amount > K.MAX_POOL then
    limit = K.LIMIT_POOL_GRANTED
  elseif pool_full(u) then
    limit = K.LIMIT_POOL_GRANTS
  end
  if limit then
    flush(u)
    return err_reply(K.E_LIMIT, limit)
  end
  local g = grant_add(u, w, tonumber(args[8]), amount, tonumber(args[10]), tonumber(args[11]),
    tonumber(args[12]))
  ledger(u, 'grant_add', '', '', {'grant', g.id, 'amount', g.amount, 'start', g.start,
    'expiry', g.exp, 'priority', g.prio})
  idem_put(u, 'K,' .. g.id)
  flush(u)
  return put_grant({K.OK}, u, g)
end
