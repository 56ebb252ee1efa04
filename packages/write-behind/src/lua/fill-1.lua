--[[
  Caches a key loaded from the database, unless a write got there first (Redis then holds newer state).

  KEYS[1] data key
  ARGV[1] ms the key stays cached (0: for ever)   ARGV[2] 'row' or 'absent'   ARGV[3] version
  ARGV[4] pair count, then field/value pairs
  Returns the key's hash as a flat list (what Redis holds after the call).
]]
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then
  redis.call('HSET', key, '_v', ARGV[3], '_fv', ARGV[3])
  for i = 5, #ARGV, 2 do redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
  if ARGV[2] == 'absent' then redis.call('HSET', key, '_d', '1') end
  if tonumber(ARGV[1]) > 0 then redis.call('PEXPIRE', key, ARGV[1]) end
end
return redis.call('HGETALL', key)
