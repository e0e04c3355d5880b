-- fn_list_run.lua: a page of a run's reservations, in the order they were
-- made (the root first), each with its own priced usage and its
-- ancestors' states, for Go to show the run's cost (quota.Service
-- decides which costs show and where). The page stops at a count and at a
-- budget of bytes of priced usage, each reservation counted with a fixed
-- allowance more (at least one reservation).
-- uses: core account pool hold
--
-- KEYS[1]  q:{ws:<id>}:ws
-- args[1..2] common; [8] hex of any reservation of the run; [9] its price
-- version; [10] cursor: the seq after which to start (-1: from the root);
-- [11] page size; [12] byte budget; [13] the origin of the id (its letter:
-- another one is not found); [14] bytes counted for each reservation
-- besides its priced usage.
-- Reply: {OK, next seq (-1: last page), n, K.N... n times};
-- {ERR, E_NOT_FOUND}.
local function list_run(keys, args)
  local u = unit(keys, args)
  local r = res_named(u, args[8], args[9], args[13])
  if not r then return err_reply(K.E_NOT_FOUND) end
  local root = res_root(u, r)
  if not root then return err_reply(K.E_NOT_FOUND) end
  local after, limit, budget, each = tonumber(args[10]), tonumber(args[11]), tonumber(args[12]), tonumber(args[14])
  local page = {}
  if after < 0 then page[1] = root.hex end
  local ids = redis.call('ZRANGEBYSCORE', u.pre .. 'run:' .. root.hex, '(' .. fmt(max(after, 0)),
    '+inf', 'LIMIT', 0, limit + 1)
  for _, id in ipairs(ids) do page[#page + 1] = id end
  local out, n, bytes, next, last = {K.OK, -1, 0}, 0, 0, -1, -1
  for _, id in ipairs(page) do
    local k = res_get(u, id)
    if k then
      if n >= limit or (n > 0 and bytes + #k.cost + each > budget) then
        next = last
        break
      end
      local anc, q = {}, res_get(u, k.parent)
      while q do
        anc[#anc + 1] = q.hex .. '.' .. fmt(q.state) .. '.' .. fmt(q.rec)
        q = res_get(u, q.parent)
      end
      local o, I = #out, K.iN
      out[o + I.id] = res_id(k)
      out[o + I.parent] = pub(k, k.parent)
      out[o + I.anc] = table.concat(anc, ';')
      out[o + I.recorded] = k.stok + k.sact
      out[o + I.res] = rec_raw(k)
      n, last = n + 1, k.seq
      bytes = bytes + #k.cost + each
    end
  end
  out[2], out[3] = next, n
  return out
end
