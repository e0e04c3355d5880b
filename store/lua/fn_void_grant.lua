-- fn_void_grant.lua: end a live (active or pending) grant now: what is
-- left is forfeited at once, what is held is forfeited when released.
-- uses: core account pool
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..7] common; [8] grant id.
-- Reply: {OK, K.G...}; {ERR, E_GRANT_NOT_FOUND}; {ERR, E_GRANT_ENDED};
-- {ERR, E_WS_NOT_FOUND}; {ERR, E_IDEM}.
local function void_grant(keys, args)
  local u = unit(keys, args)
  local prev = idem_get(u)
  if prev == false then return err_reply(K.E_IDEM) end
  local w = ws_get(u)
  if not w then return err_reply(K.E_WS_NOT_FOUND) end
  local g = grant_get(u, args[8])
  if not g then return err_reply(K.E_GRANT_NOT_FOUND) end
  if prev and prev ~= 'K' then return err_replay(prev) end
  if prev then return put_grant({K.OK}, u, g) end
  pool_tick(u, w, K.GRANT_STEPS)
  local live = g.state == K.G_ACTIVE or g.state == K.G_PENDING
  if live and g.exp <= u.now then
    grant_end(u, w, g, K.G_EXPIRED)
    live = false
  end
  if not live then
    flush(u)
    return err_record(u, K.E_GRANT_ENDED)
  end
  grant_end(u, w, g, K.G_VOIDED)
  idem_put(u, 'K')
  flush(u)
  return put_grant({K.OK}, u, g)
end
