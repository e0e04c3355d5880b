-- fn_fold_usage.lua: fold a batch of the workspace's usage queue into its
-- usage buckets (usage.lua), so that a usage report read next counts
-- every commit acknowledged before it. quotad calls it before it reads a
-- report, until nothing is left.
-- uses: core usage
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..2] common (only the key prefix is used).
-- Reply: {entries folded, more may be queued (1/0)}.
local function fold_usage(keys, args)
  local n, more = usage_fold(args[2])
  return {n, more and 1 or 0}
end
