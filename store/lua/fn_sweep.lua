-- fn_sweep.lua: the background work of one workspace that is due: release
-- up to a limit of holds whose deadline has passed, and apply due grant
-- starts and expiries. Safe to run from any number of replicas at once:
-- each hold is released once, by whichever call reaches it first. Periods
-- are not rolled over here: seat credits released into a period that has
-- ended are forfeited at that account's next reset, as they would have
-- been.
-- uses: core account pool hold
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..2] common; [8] the most holds to release.
-- Reply: {released, more due (1/0), credits released (µcredits), oldest
-- deadline released (ms, 0: none), credits released of conversations,
-- Sidekick and automations, credits forfeited}.
local function sweep(keys, args)
  local u = unit(keys, args)
  local w = ws_get(u)
  if not w then return {0, 0, 0, 0, 0, 0, 0, 0} end
  u.expired, u.forfeited = {}, 0
  local more_grants = pool_tick(u, w, tonumber(args[8]))
  local n, more, credits, oldest = expire_due(u, w, nil, tonumber(args[8]), true)
  flush(u)
  return {n, (more or more_grants) and 1 or 0, credits, oldest, u.expired[1] or 0,
    u.expired[2] or 0, u.expired[3] or 0, u.forfeited}
end
