--[[
  Reads a key's hash under a memory budget, marking it used: a read keeps a clean key from eviction as a
  write does. Without a budget the cache reads with a plain HGETALL.

  KEYS[1] data key    KEYS[2] the shard's index of clean keys
  ARGV[1] now, in ms
  Returns the hash as a flat list.
]]
local hash = redis.call('HGETALL', KEYS[1])
if #hash > 0 then redis.call('ZADD', KEYS[2], 'XX', ARGV[1], KEYS[1]) end
return hash
