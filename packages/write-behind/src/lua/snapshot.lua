--[[
  Reads the state of keys about to be flushed, atomically with their dirty flags.

  KEYS[1] the shard's dirty index    KEYS[2..] data keys
  Returns one entry per data key: {} when the key is clean or gone (nothing to flush), else its hash as a
  flat list.
]]
local out = {}
for i = 2, #KEYS do
  if redis.call('ZSCORE', KEYS[1], KEYS[i]) then
    out[i - 1] = redis.call('HGETALL', KEYS[i])
  else
    out[i - 1] = {}
  end
end
return out
