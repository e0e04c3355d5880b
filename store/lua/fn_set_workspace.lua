-- fn_set_workspace.lua: create a workspace (no pool cap, no overage, no
-- programmatic cap, not pooled) or update its subscription anchor.
-- Accounts keep their current period; the next reset uses the new anchor.
-- uses: core account
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..7] common; [8] anchor (ms).
-- Reply: {OK, K.W...}; {ERR, E_IDEM}.
local function set_workspace(keys, args)
  local u = unit(keys, args)
  local prev = idem_get(u)
  if prev == false then return err_reply(K.E_IDEM) end
  local w = ws_get(u)
  if prev and w then return put_workspace({K.OK}, w) end
  if not w then
    w = rec_new(u, u.kws, K.L_WS, {anchor = 0, pooled = 0, pcap = K.CAP_UNLIMITED,
      ov_on = 0, ov_cap = 0, prog_cap = K.CAP_UNLIMITED, wps = 0, wpe = 0, ov_used = 0,
      ov_held = 0, prog_used = 0, prog_held = 0, p_granted = 0, p_avail = 0, p_pend = 0,
      p_live = 0, p_held = 0, p_spent = 0, p_forf = 0, ev_pool = 0, g_seq = 0, g_next = 0, d_next = 0})
  end
  w.anchor = tonumber(args[8])
  touch(u, w)
  ledger(u, 'workspace', '', '', {'anchor', w.anchor})
  idem_put(u, 'K')
  flush(u)
  return put_workspace({K.OK}, w)
end
