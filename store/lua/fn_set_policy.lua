-- fn_set_policy.lua: set a workspace's pool and overage settings. Caps
-- apply to draws from now on; pooled mode applies at each member's next
-- reset.
-- uses: core account
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..7] common; [8] default member pool cap (µcredits per period,
-- K.CAP_UNLIMITED: none); [9] overage on (1/0); [10] overage cap per
-- period; [11] programmatic cap per period (K.CAP_UNLIMITED: none); [12]
-- pooled (1/0).
-- Reply: {OK, K.W...}; {ERR, E_WS_NOT_FOUND}; {ERR, E_IDEM}.
local function set_policy(keys, args)
  local u = unit(keys, args)
  local prev = idem_get(u)
  if prev == false then return err_reply(K.E_IDEM) end
  local w = ws_get(u)
  if not w then return err_reply(K.E_WS_NOT_FOUND) end
  if not prev then
    w.pcap, w.ov_on, w.ov_cap = tonumber(args[8]), tonumber(args[9]), tonumber(args[10])
    w.prog_cap, w.pooled = tonumber(args[11]), tonumber(args[12])
    touch(u, w)
    ledger(u, 'policy', '', '', {'pool_cap', w.pcap, 'overage', w.ov_on, 'overage_cap', w.ov_cap,
      'programmatic_cap', w.prog_cap, 'pooled', w.pooled})
    idem_put(u, 'K')
    flush(u)
  end
  return put_workspace({K.OK}, w)
end
