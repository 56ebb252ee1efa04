--[[
  Caches a key loaded from the database, unless a write got there first (Redis then holds newer state).

  KEYS[1] data key
  ARGV[1] 'row' or 'absent'   ARGV[2] version   ARGV[3] pair count, then field/value pairs
  Returns the key's hash as a flat list (what Redis holds after the call).
]]
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then
  redis.call('HSET', key, '_v', ARGV[2], '_fv', ARGV[2])
  for i = 4, #ARGV, 2 do redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
  if ARGV[1] == 'absent' then redis.call('HSET', key, '_d', '1') end
end
return redis.call('HGETALL', key)
