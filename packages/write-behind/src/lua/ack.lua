--[[
  Records that the database now holds given versions of keys.

  KEYS[1] the shard's dirty index    KEYS[2] the shard's failed index    KEYS[3..] data keys
  ARGV[1] now, in ms    ARGV[2] ms a clean key stays cached (0: for ever)    ARGV[3..] the version written for each data key

  A key whose version is unchanged becomes clean (a flushed tombstone is removed entirely: the database
  remembers the delete), and a clean key may expire: the database holds it. A key written meanwhile stays dirty with a fresh score, and needs another flush.
  Returns one flag per data key: 1 still dirty, 0 clean.
]]
local out = {}
for i = 3, #KEYS do
  local key, flushed = KEYS[i], tonumber(ARGV[i])
  local current = tonumber(redis.call('HGET', key, '_v'))
  redis.call('HDEL', KEYS[2], key)
  if current == nil then
    redis.call('ZREM', KEYS[1], key)
    out[i - 2] = 0
  else
    if flushed > tonumber(redis.call('HGET', key, '_fv') or '0') then redis.call('HSET', key, '_fv', flushed) end
    if current == flushed then
      redis.call('ZREM', KEYS[1], key)
      if redis.call('HEXISTS', key, '_d') == 1 then
        redis.call('DEL', key)
      elseif tonumber(ARGV[2]) > 0 then
        redis.call('PEXPIRE', key, ARGV[2])
      end
      out[i - 2] = 0
    else
      redis.call('ZADD', KEYS[1], 'XX', ARGV[1], key)
      out[i - 2] = 1
    end
  end
end
return out
