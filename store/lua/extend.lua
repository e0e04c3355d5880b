-- extend.lua: raise a held reservation (all or nothing) and/or move its
-- deadline. A child is raised from its nearest held ancestor's free hold
-- first, then from the sources in order; its deadline never passes that
-- ancestor's. An increase is refused with RUN_CAP_REACHED when the run's
-- recorded token credits, what its open children hold and the increase
-- would pass the run's cap.
--
-- KEYS[1]  q:{ws:<id>}:res:<rid>    the reservation
-- KEYS[2]  q:{ws:<id>}:idem:<req>   idempotency record
-- Derived keys: ws, acct:<owner>, holds:<owner>, res:*, kids:*, grant:<id>,
-- grants, deadlines, ledger, events.
-- ARGV[1..6] common; ARGV[7] reservation id; ARGV[8] µcredits to add (may
-- be 0); ARGV[9] new deadline (ms; 0 keeps it).
-- Returns {"OK", "r.*", ..., "b.*", ...}, {"ERR", "NOT_FOUND"},
-- {"ERR", "TRANSITION", from_state, to_state}, {"ERR", "DENIED", ...},
-- {"ERR", "IDEM"} or {"ROLL", anchor_ms}.
local cached = idem_check(KEYS[2])
if cached then return cached end
local id = ARGV[7]
local ok, w, a, p, r = open_res(KEYS[1], id)
if not ok then return w end
local owner = r.member
if r.state ~= HELD then
  finish(w, a)
  return idem_record(KEYS[2], {'ERR', 'TRANSITION', fmt(r.state), fmt(HELD)})
end

local add, dl = tonumber(ARGV[8]), tonumber(ARGV[9])
local q = nearest_held(r)
local d = {seat = 0, free = 0, pool = 0, grants = {}, ov = 0}
local carved = 0
if add > 0 then
  local left = run_cap_left(r)
  if add > left then
    local den = denial(w, a, finish(w, a), add, add)
    den[3], den[6] = 'RUN_CAP_REACHED', fmt(left)
    return idem_record(KEYS[2], den)
  end
  normalize(a, r)
  local free = 0
  if q then
    normalize(a, q)
    free = max(res_held(q) - q.kc, 0)
  end
  carved = min(add, free)
  if carved + spendable(w, a, p) < add then
    res_save(r)
    if q then res_save(q) end
    return idem_record(KEYS[2], denial(w, a, finish(w, a), add, add))
  end
  if carved > 0 then
    carve(q, r, carved)
    res_save(q)
  end
  if add > carved then
    d = draw(w, a, p, add - carved, true)
    local grants = parts_decode(r.h_grants)
    for _, e in ipairs(d.grants) do parts_add(grants, e[1], e[2]) end
    r.h_seat, r.h_free, r.h_pool = r.h_seat + d.seat, r.h_free + d.free, r.h_pool + d.pool
    r.h_grants, r.h_ov = parts_encode(grants), r.h_ov + d.ov
  end
  r.req = r.req + add
end
if dl > 0 then
  if q then dl = min(dl, q.dl) end
  r.dl = dl
  redis.call('ZADD', holds_key(owner), dl, id)
  redis.call('ZADD', DEADLINES, dl, id)
end
res_save(r)
ledger('extend', owner, id, {'held', d.seat + d.free + d.pool + d.ov, 'carved', carved,
  'seat', d.seat, 'free', d.free, 'pool', d.pool, 'grants', parts_encode(d.grants),
  'overage', d.ov, 'deadline', r.dl})
return idem_record(KEYS[2], reply_res(w, a, finish(w, a), r))
