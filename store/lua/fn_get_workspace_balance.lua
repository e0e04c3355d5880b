-- fn_get_workspace_balance.lua: a workspace's pool, overage and
-- programmatic usage as of now: the period is rolled over if it ended,
-- due grant transitions are applied and expired holds released first.
-- uses: core account pool hold
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..4] common (no request id).
-- Reply: {OK, K.W...}; {ERR, E_WS_NOT_FOUND}; {ROLL, anchor}.
local function get_workspace_balance(keys, args)
  local u = unit(keys, args)
  local w, ok = open_ws(u, nil)
  if not w then return err_reply(K.E_WS_NOT_FOUND) end
  if not ok then return {K.ROLL, w.anchor} end
  catch_up(u, w, nil)
  finish(u, w, nil)
  return put_workspace({K.OK}, w)
end
