-- fn_set_member_cap.lua: set or clear a member's pool cap override. The
-- cap bounds what the member draws from the pool per period (held and
-- spent).
-- uses: core account pool hold
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..7] common; [8] member id; [9] the override (µcredits per period;
-- K.CAP_UNLIMITED: unlimited; K.CAP_DEFAULT: none, the workspace default
-- applies).
-- Reply: {OK, K.B...}; {ERR, E_WS_NOT_FOUND}; {ERR, E_IDEM}; {ROLL, anchor}.
local function set_member_cap(keys, args)
  local u = unit(keys, args)
  local prev = idem_get(u)
  if prev == false then return err_reply(K.E_IDEM) end
  local w = ws_get(u)
  if not w then return err_reply(K.E_WS_NOT_FOUND) end
  local a = acct_get(u, args[8])
  acct_create(u, a)
  if not ready(u, w, a) then return {K.ROLL, w.anchor} end
  pool_tick(u, w, K.GRANT_STEPS)
  expire_due(u, w, a, K.EXPIRE_PER_CALL)
  if not prev then
    a.pcap = tonumber(args[9])
    touch(u, a)
    ledger(u, 'member_pool_cap', a.member, '', {'pool_cap', a.pcap})
    idem_put(u, 'K')
  end
  finish(u, w, a)
  return reply_balance(w, a)
end
