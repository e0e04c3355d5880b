-- reserve.lua: take a hold for a member or a programmatic spender, in
-- source order (seat, free, pool, overage) and within every cap; or, with
-- a parent, a child hold carved out of the parent's free hold (see
-- quota/run.go), topped up from the sources where allowed.
--
-- KEYS[1]  q:{ws:<id>}:ws           workspace hash (must exist)
-- KEYS[2]  q:{ws:<id>}:idem:<req>   idempotency record
-- Derived keys (same hash tag): acct:<owner>, holds:<owner>, res:<id>,
-- kids:<id>, grant:<id>, grants, deadlines, ledger, events.
-- ARGV[1..6] common (see lib.lua); ARGV[7] owner (a member id, "~" and a
-- spender id, or "" for a child: the parent's); ARGV[8] reservation id;
-- ARGV[9] origin (quota.Origin); ARGV[10] amount, ARGV[11] minimum
-- (µcredits; 0 and 0 for a free Sidekick run); ARGV[12] deadline (ms);
-- ARGV[13] parent reservation id ("" for a root); ARGV[14] top-up allowed
-- (1/0); ARGV[15] the run's token cap (a root's; -1: none).
-- Returns {"OK", "r.*", ..., "b.*", ...} (the reservation and the owner's
-- account), {"ERR", "DENIED", reason, requested, minimum, available
-- (µcredits), member, spender}, {"ERR", "PARENT_NOT_FOUND"},
-- {"ERR", "PARENT_NOT_HELD"}, {"ERR", "OWNER_MISMATCH"}, {"ERR", "TOO_DEEP"},
-- {"ERR", "WS_NOT_FOUND"}, {"ERR", "IDEM"} or {"ROLL", anchor_ms}.
local cached = idem_check(KEYS[2])
if cached then return cached end
local owner, id, parent_id = ARGV[7], ARGV[8], ARGV[13] or ''
local want, least = tonumber(ARGV[10]), tonumber(ARGV[11])
if parent_id ~= '' then
  local pr, found = res_load(parent_id)
  if not found then return {'ERR', 'PARENT_NOT_FOUND'} end
  if owner ~= '' and owner ~= pr.member then return {'ERR', 'OWNER_MISMATCH'} end
  owner = pr.member
end
local w, a, p, ok = open(owner)
if not w then return {'ERR', 'WS_NOT_FOUND'} end
if not ok then return {'ROLL', fmt(w.anchor)} end

local r = {id = id, member = owner, rq = REQ_ID, cost = '', parent = '', root = id,
  origin = tonumber(ARGV[9]), state = HELD, req = want, h_seat = 0, h_old = 0, h_free = 0,
  h_pool = 0, h_grants = '', h_ov = 0, h_ps = a.ps, h_wps = w.wps, dl = tonumber(ARGV[12]),
  ct = NOW, st = 0, ch = 0, chh = 0, c_seat = 0, c_free = 0, c_pool = 0, c_grants = '',
  c_ov = 0, rel = 0, sf = 0, depth = 1, oc = 0, kc = 0, rec = 0, rcap = tonumber(ARGV[15]),
  rtok = 0}
resv[id] = r
local carved = 0

if parent_id ~= '' then
  local pr = res_load(parent_id)
  if pr.state ~= HELD then
    finish(w, a)
    return idem_record(KEYS[2], {'ERR', 'PARENT_NOT_HELD'})
  end
  if pr.depth >= MAX_DEPTH then
    finish(w, a)
    return idem_record(KEYS[2], {'ERR', 'TOO_DEEP'})
  end
  r.parent, r.root, r.depth, r.rcap = pr.id, pr.root, pr.depth + 1, -1
  r.dl = min(r.dl, pr.dl)
  if want > 0 then
    -- The run's token cap bounds what the child may ask for.
    local allow = min(want, run_cap_left(pr))
    if allow < least or allow == 0 then
      local d = denial(w, a, finish(w, a), want, least)
      d[3], d[6] = 'RUN_CAP_REACHED', fmt(allow)
      return idem_record(KEYS[2], d)
    end
    normalize(a, pr)
    local free = max(res_held(pr) - pr.kc, 0)
    local take, top = min(allow, free), 0
    if take < allow and ARGV[14] == '1' then top = min(allow - take, spendable(w, a, p)) end
    if take + top < least then
      res_save(pr)
      local d = denial(w, a, finish(w, a), want, least)
      if ARGV[14] ~= '1' then
        d[3], d[6] = 'PARENT_HOLD_EXHAUSTED', fmt(free)
      else
        d[6] = fmt(free + top) -- the parent's free hold and the sources'
      end
      return idem_record(KEYS[2], d)
    end
    carve(pr, r, take)
    carved, r.h_ps = take, pr.h_ps
    if top > 0 then
      local d = draw(w, a, p, top, true)
      local grants = parts_decode(r.h_grants)
      for _, e in ipairs(d.grants) do parts_add(grants, e[1], e[2]) end
      r.h_seat, r.h_free, r.h_pool = r.h_seat + d.seat, r.h_free + d.free, r.h_pool + d.pool
      r.h_grants, r.h_ov = parts_encode(grants), r.h_ov + d.ov
    end
  end
  res_save(pr)
  redis.call('ZADD', kids_key(pr.id), redis.call('ZCARD', kids_key(pr.id)) + 1, id)
elseif want > 0 then
  local avail = spendable(w, a, p)
  if avail < least then
    return idem_record(KEYS[2], denial(w, a, finish(w, a), want, least))
  end
  local d = draw(w, a, p, min(want, avail), true)
  r.h_seat, r.h_free, r.h_pool = d.seat, d.free, d.pool
  r.h_grants, r.h_ov = parts_encode(d.grants), d.ov
end
res_save(r)
redis.call('ZADD', holds_key(owner), r.dl, id)
redis.call('ZADD', DEADLINES, r.dl, id)
-- held: drawn from the sources; carved: moved from the parent's hold.
ledger('reserve', owner, id, {'held', res_held(r) - carved, 'carved', carved,
  'seat', r.h_seat + r.h_old, 'free', r.h_free, 'pool', r.h_pool, 'grants', r.h_grants,
  'overage', r.h_ov, 'parent', r.parent})
return idem_record(KEYS[2], reply_res(w, a, finish(w, a), r))
