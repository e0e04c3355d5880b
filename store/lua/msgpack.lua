-- msgpack.lua: a MessagePack codec in plain Lua, for servers whose Lua has
-- no cmsgpack (the embedded server, miniredis). It is part of the
-- stand-alone scripts only (store/lua.go); Redis Functions use Redis's
-- built-in cmsgpack, which reads and writes the same format. It handles
-- what records hold: integers (magnitude up to 2^53) and strings one
-- after the other, which cmsgpack.pack(a, b, ...) writes and
-- cmsgpack.unpack returns as several values (records, counters, packed
-- replies).
local cmsgpack = {}
do
  local function be(n, bytes)
    local t = {}
    for i = bytes, 1, -1 do
      t[i] = string.char(n % 256)
      n = math.floor(n / 256)
    end
    return table.concat(t)
  end

  local function int(n)
    -- Records hold no fractions: fail loudly where cmsgpack would write a
    -- float64 this codec does not, rather than write another number.
    if n ~= math.floor(n) then error('msgpack.lua: not an integer: ' .. n) end
    if n >= 0 then
      if n < 128 then return string.char(n) end
      if n < 256 then return string.char(0xcc, n) end
      if n < 65536 then return string.char(0xcd) .. be(n, 2) end
      if n < 4294967296 then return string.char(0xce) .. be(n, 4) end
      return string.char(0xcf) .. be(n, 8)
    end
    if n >= -32 then return string.char(256 + n) end
    if n >= -128 then return string.char(0xd0, 256 + n) end
    if n >= -32768 then return string.char(0xd1) .. be(65536 + n, 2) end
    if n >= -2147483648 then return string.char(0xd2) .. be(4294967296 + n, 4) end
    -- int64: the complement of -n - 1's bytes, so that every value down
    -- to -2^53 stays exact in a double (2^64 + n would not).
    local t, m = {}, -n - 1
    for i = 8, 1, -1 do
      t[i] = string.char(255 - m % 256)
      m = math.floor(m / 256)
    end
    return string.char(0xd3) .. table.concat(t)
  end

  local function str(s)
    local n = #s
    if n < 32 then return string.char(0xa0 + n) .. s end
    if n < 256 then return string.char(0xd9, n) .. s end
    if n < 65536 then return string.char(0xda) .. be(n, 2) .. s end
    return string.char(0xdb) .. be(n, 4) .. s
  end

  function cmsgpack.pack(...)
    local out = {}
    for i = 1, select('#', ...) do
      local v = select(i, ...)
      if type(v) == 'number' then out[i] = int(v) else out[i] = str(v) end
    end
    return table.concat(out)
  end

  local function uint(s, pos, bytes)
    local n = 0
    for i = pos, pos + bytes - 1 do n = n * 256 + string.byte(s, i) end
    return n
  end

  -- value reads the value at pos; returns it and the next position.
  local function value(s, pos)
    local c = string.byte(s, pos)
    if c < 0x80 then return c, pos + 1 end
    if c >= 0xe0 then return c - 256, pos + 1 end
    if c >= 0xa0 and c <= 0xbf then
      local n = c - 0xa0
      return string.sub(s, pos + 1, pos + n), pos + 1 + n
    end
    if c == 0xc0 then return nil, pos + 1 end
    if c == 0xc2 then return false, pos + 1 end
    if c == 0xc3 then return true, pos + 1 end
    if c == 0xcc then return uint(s, pos + 1, 1), pos + 2 end
    if c == 0xcd then return uint(s, pos + 1, 2), pos + 3 end
    if c == 0xce then return uint(s, pos + 1, 4), pos + 5 end
    if c == 0xcf then return uint(s, pos + 1, 8), pos + 9 end
    if c == 0xd0 then return uint(s, pos + 1, 1) - 256, pos + 2 end
    if c == 0xd1 then
      local n = uint(s, pos + 1, 2)
      if n >= 32768 then n = n - 65536 end
      return n, pos + 3
    end
    if c == 0xd2 then
      local n = uint(s, pos + 1, 4)
      if n >= 2147483648 then n = n - 4294967296 end
      return n, pos + 5
    end
    if c == 0xd3 then
      if string.byte(s, pos + 1) < 128 then return uint(s, pos + 1, 8), pos + 9 end
      -- Negative: minus one minus the complement of its bytes, so that
      -- every value down to -2^53 stays exact in a double.
      local m = 0
      for i = pos + 1, pos + 8 do m = m * 256 + 255 - string.byte(s, i) end
      return -m - 1, pos + 9
    end
    local w = ({[0xd9] = 1, [0xda] = 2, [0xdb] = 4, [0xc4] = 1, [0xc5] = 2, [0xc6] = 4})[c]
    if w then
      local n = uint(s, pos + 1, w)
      return string.sub(s, pos + 1 + w, pos + w + n), pos + 1 + w + n
    end
    error('msgpack.lua: unsupported type byte ' .. c)
  end

  function cmsgpack.unpack(s)
    local out, k, pos = {}, 0, 1
    while pos <= #s do
      k = k + 1
      out[k], pos = value(s, pos)
    end
    return unpack(out, 1, k)
  end
end
