--[[
  Reads the state of keys about to be flushed.

  KEYS[1..] data keys (all of one shard)
  Returns one msgpack-encoded array with one entry per data key: its hash as a flat field/value list when
  the key is dirty, empty when it is clean or gone (nothing to write). One string instead of a nested reply:
  the client decodes a batch with one msgpack call instead of a RESP element per field.
]]
--- @include "is-dirty"
local out = {}
for i = 1, #KEYS do
  local hash = redis.call('HGETALL', KEYS[i])
  local version, flushed = false, false
  for j = 1, #hash, 2 do
    if hash[j] == '_v' then version = hash[j + 1] elseif hash[j] == '_fv' then flushed = hash[j + 1] end
  end
  out[i] = isDirty(version, flushed) and hash or {}
end
return cmsgpack.pack(out)
