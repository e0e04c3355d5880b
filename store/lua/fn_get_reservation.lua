-- fn_get_reservation.lua: read a reservation as of now. Expired holds are
-- released first (lazy release): the reservation itself when it is past
-- its deadline, and the workspace's oldest, so an expired hold reads as
-- EXPIRED even before the sweeper ran.
-- uses: core account pool hold
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..4] common (no request id); [8] reservation hex; [9] its price
-- version; [10] its origin (the id's letter: another one is not found).
-- Reply: {OK, K.R..., K.B...}; {ERR, E_NOT_FOUND}; {ROLL, anchor}.
local function get_reservation(keys, args)
  local u = unit(keys, args)
  local r = res_named(u, args[8], args[9], args[10])
  if not r then return err_reply(K.E_NOT_FOUND) end
  local w, a, ok = open_owner(u, r.owner)
  if not w then return err_reply(K.E_NOT_FOUND) end
  if not ok then return {K.ROLL, w.anchor} end
  if r.state == K.HELD and r.dl <= u.now then expire(u, w, a, r) end
  catch_up(u, w, a)
  finish(u, w, a)
  return reply_res(u, w, a, r)
end
