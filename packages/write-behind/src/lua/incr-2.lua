--[[
  The increment of a key that Redis holds and that is not deleted: the common case, with a third of the
  arguments of write-2.lua and no argument parsing it does not need. Anything else (a cold key, a deleted
  key whose record an increment must create) is left to write-2.lua, which applies the same rules.

  KEYS[1] data key (hash)      KEYS[2] the shard's dirty index (sorted set)
  ARGV[1] counter field        ARGV[2] delta        ARGV[3] largest magnitude allowed
  ARGV[4] now, in ms (score of a newly dirty key)
  ARGV[5] backlog limit (0: no limit)      ARGV[6] '1' when clean keys may expire
  Returns as write-2.lua: { 0, new value, version, newlyDirty }, { 2, dirty count }, { 3, current value };
  { 1 } when the key is not in Redis, { 5 } when it is deleted: run write-2.lua instead.
]]
local key, dirtyKey = KEYS[1], KEYS[2]
local rcall = redis.call
local meta = rcall('HMGET', key, '_v', '_d', ARGV[1])
if not meta[1] then return { 1 } end
if meta[2] then return { 5 } end

local alreadyDirty = rcall('ZSCORE', dirtyKey, key)
local limit = tonumber(ARGV[5])
if not alreadyDirty and limit > 0 then
  local count = rcall('ZCARD', dirtyKey)
  if count >= limit then return { 2, count } end
end

local delta, max = tonumber(ARGV[2]), tonumber(ARGV[3])
local current = tonumber(meta[3] or '0')
local nextValue = current + delta
if nextValue > max or nextValue < -max then return { 3, tostring(current) } end

local value = rcall('HINCRBY', key, ARGV[1], delta)
local version = rcall('HINCRBY', key, '_v', 1)
if ARGV[6] == '1' then rcall('PERSIST', key) end
local newlyDirty = 0
if not alreadyDirty then
  rcall('ZADD', dirtyKey, ARGV[4], key)
  -- The suffix of the flush job the caller enqueues: the sweep finds the key's job by it.
  rcall('HSET', key, '_j', version)
  newlyDirty = 1
end
return { 0, value, version, newlyDirty }
