--[[
  Caches a key loaded from the database, unless a write got there first (Redis then holds newer state).

  KEYS[1] data key
  ARGV[1] ms the key stays cached (0: for ever)   ARGV[2] 'row' or 'absent'   ARGV[3] version
  ARGV[4] pair count, then field/value pairs
  Returns the key's hash as a flat list (what Redis holds after the call).
]]
--- @include "fill-key"
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then
  fillKey(key, ARGV[2], ARGV[3], 5, tonumber(ARGV[4]))
  if tonumber(ARGV[1]) > 0 then redis.call('PEXPIRE', key, ARGV[1]) end
end
return redis.call('HGETALL', key)
