-- fn_get_balance.lua: read a member's account as of now: periods are
-- rolled over if they ended and holds past their deadline are released
-- first.
-- uses: core account pool hold
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..4] common (no request id); [8] member id.
-- Reply: {OK, K.B...} (for a member never seen: an empty account in the
-- workspace's current period); {ERR, E_WS_NOT_FOUND}; {ROLL, anchor}.
local function get_balance(keys, args)
  local u = unit(keys, args)
  local w, a, ok = open_owner(u, args[8])
  if not w then return err_reply(K.E_WS_NOT_FOUND) end
  if not ok then return {K.ROLL, w.anchor} end
  catch_up(u, w, a)
  finish(u, w, a)
  return reply_balance(w, a)
end
