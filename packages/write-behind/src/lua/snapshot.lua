--[[
  Reads the state of keys about to be flushed.

  KEYS[1..] data keys (all of one shard)
  Returns one msgpack-encoded array with one entry per data key: its hash as a flat field/value list, empty
  when the key is gone. One string instead of a nested reply: the client decodes a batch with one msgpack
  call instead of a RESP element per field.
  Whether a key needs flushing is in its hash (`_v` above `_fv`: see planFlush), read atomically by HGETALL,
  so the dirty index need not be read here.
]]
local out = {}
for i = 1, #KEYS do out[i] = redis.call('HGETALL', KEYS[i]) end
return cmsgpack.pack(out)
