--[[
  Records that the database now holds given versions of keys.

  KEYS[1] the shard's dirty index    KEYS[2] the shard's failed index    KEYS[3..] data keys
  ARGV[1] now, in ms    ARGV[2] ms a clean key stays cached (0: for ever)    ARGV[3..] the version written for each data key

  A key whose version is unchanged becomes clean (a flushed tombstone is removed entirely: the database
  remembers the delete), and a clean key may expire: the database holds it. A key written meanwhile stays
  dirty with a fresh score, and needs another flush. Either way its failed-job marker goes: it was written.
  Returns one flag per data key as one string, '1' still dirty and '0' clean: a single bulk reply is cheaper
  for the client to decode than an integer per key.
]]
local rcall = redis.call
local out = {}
-- The failed index is almost always empty: skip a command per key when it is.
local anyFailed = rcall('HLEN', KEYS[2]) > 0
local ttl = tonumber(ARGV[2])
-- Clean keys leave the dirty index in one ZREM per 500, not one per key.
local clean = {}
local function unmark(key)
  clean[#clean + 1] = key
  if #clean == 500 then
    rcall('ZREM', KEYS[1], unpack(clean))
    clean = {}
  end
end
for i = 3, #KEYS do
  local key, flushed = KEYS[i], tonumber(ARGV[i])
  local meta = rcall('HMGET', key, '_v', '_fv', '_d')
  local current = tonumber(meta[1])
  if anyFailed then rcall('HDEL', KEYS[2], key) end
  if current == nil then
    unmark(key)
    out[i - 2] = '0'
  elseif current == flushed then
    unmark(key)
    if meta[3] then
      rcall('DEL', key)
    else
      if flushed > tonumber(meta[2] or '0') then rcall('HSET', key, '_fv', flushed) end
      if ttl > 0 then rcall('PEXPIRE', key, ttl) end
    end
    out[i - 2] = '0'
  else
    if flushed > tonumber(meta[2] or '0') then rcall('HSET', key, '_fv', flushed) end
    rcall('ZADD', KEYS[1], 'XX', ARGV[1], key)
    out[i - 2] = '1'
  end
end
if #clean > 0 then rcall('ZREM', KEYS[1], unpack(clean)) end
return table.concat(out)
