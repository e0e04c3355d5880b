-- reference.lua: the minimal Reserve that issue 7 measures quota against,
-- for calibration only (quotabench -reference). It does the essential
-- work of a Reserve in the plainest way, as the issue describes it: read
-- the account, check, hold, write the reservation, index its deadline,
-- append a ledger entry, write an idempotency record. It has none of
-- quota's rules (sources, caps, periods, runs, replays): its cost is a
-- floor that a real Reserve on the same Redis, the same load and the same
-- machine can be compared with, whatever the machine's speed.
--
-- Keys live under qbref:{ws:<id>}: (never quota's q:), one slot per
-- workspace; quotabench deletes them after the phase.
-- KEYS[1] account (hash: alloc, held, spent; µcredits)
-- KEYS[2] reservation (hash), KEYS[3] deadlines (zset: ms -> id)
-- KEYS[4] ledger (stream), KEYS[5] idempotency record (string, PX 48 h)
-- ARGV[1] now (ms), ARGV[2] amount (µcredits), ARGV[3] deadline (ms),
-- ARGV[4] reservation id, ARGV[5] request id, ARGV[6] member,
-- ARGV[7] the allocation of a new account (µcredits)
-- Reply: {1, available after} or {0, available} when denied.
local amount = tonumber(ARGV[2])
local f = redis.call('HGETALL', KEYS[1])
local a = {}
for i = 1, #f, 2 do a[f[i]] = tonumber(f[i + 1]) end
if not a.alloc then
  a.alloc, a.held, a.spent = tonumber(ARGV[7]), 0, 0
  redis.call('HSET', KEYS[1], 'alloc', a.alloc, 'held', 0, 'spent', 0)
end
local avail = a.alloc - a.held - a.spent
if avail < amount then return {0, avail} end
redis.call('HINCRBY', KEYS[1], 'held', amount)
redis.call('HSET', KEYS[2], 'member', ARGV[6], 'state', 'held', 'amount', amount,
  'seat', amount, 'deadline', ARGV[3], 'created', ARGV[1], 'request', ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
redis.call('XADD', KEYS[4], '*', 'op', 'reserve', 'member', ARGV[6], 'res', ARGV[4],
  'held', amount, 'seat', amount, 'request', ARGV[5])
redis.call('SET', KEYS[5], 'OK|' .. ARGV[4], 'PX', 172800000)
return {1, avail - amount}
