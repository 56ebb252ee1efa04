--[[
  Applies one write to a key and marks the key dirty, atomically.

  KEYS[1] data key (hash)      KEYS[2] the shard's dirty index (sorted set)

  ARGV[1] op: 'incr' | 'set' | 'del'
  ARGV[2] now, in ms (score of a newly dirty key)
  ARGV[3] backlog limit: most dirty keys before a write to a clean key is refused (0: no limit)
  ARGV[4] fill: '' (key must be in Redis), 'row' or 'absent' (cold key: state loaded from the database)
  ARGV[5] fill version      ARGV[6] fill pair count n, then n field/value pairs
  then:   missing required fields if the record must be created, create pair count m, m pairs (defaults)
  then for 'incr': field, delta, largest magnitude allowed
       for 'set':  pair count k, k pairs

  Returns { status, value, version, newlyDirty }
    status 0 ok, 1 cold (load the key and call again with a fill), 2 backlog full (value: dirty count),
           3 counter overflow, 4 record does not exist (a partial set cannot create it)
    value: 'incr' the new counter value; 'set' the whole hash as a flat list; 'del' 1 if something was deleted
]]
local key, dirtyKey = KEYS[1], KEYS[2]
local rcall = redis.call
local op = ARGV[1]

-- A refused write leaves Redis as it found it, including a fill made by this call.
local filled = false
local function refuse(status, detail)
  if filled then rcall('DEL', key) end
  return { status, detail }
end

if rcall('EXISTS', key) == 0 then
  if ARGV[4] == '' then return { 1 } end
  filled = true
  local n = tonumber(ARGV[6])
  rcall('HSET', key, '_v', ARGV[5], '_fv', ARGV[5])
  for i = 0, n - 1 do rcall('HSET', key, ARGV[7 + 2 * i], ARGV[8 + 2 * i]) end
  if ARGV[4] == 'absent' then rcall('HSET', key, '_d', '1') end
end

local p = 7 + 2 * tonumber(ARGV[6])
local missingRequired = tonumber(ARGV[p])
local createCount = tonumber(ARGV[p + 1])
local createAt = p + 2
p = createAt + 2 * createCount

local exists = rcall('HEXISTS', key, '_d') == 0
if op == 'del' and not exists then
  refuse(0)
  return { 0, 0, 0, 0 }
end

local alreadyDirty = rcall('ZSCORE', dirtyKey, key)
local limit = tonumber(ARGV[3])
if not alreadyDirty and limit > 0 then
  local count = rcall('ZCARD', dirtyKey)
  if count >= limit then return refuse(2, count) end
end

local value
if op == 'incr' then
  if not exists and missingRequired > 0 then return refuse(4) end
  local field, delta, max = ARGV[p], tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2])
  local current = tonumber(rcall('HGET', key, field) or '0')
  if not exists then current = 0 end
  local nextValue = current + delta
  if nextValue > max or nextValue < -max then return refuse(3, tostring(current)) end
  if not exists then
    rcall('HDEL', key, '_d')
    for i = 0, createCount - 1 do rcall('HSET', key, ARGV[createAt + 2 * i], ARGV[createAt + 1 + 2 * i]) end
  end
  value = rcall('HINCRBY', key, field, delta)
elseif op == 'set' then
  local count = tonumber(ARGV[p])
  if not exists then
    if missingRequired > 0 then return refuse(4) end
    rcall('HDEL', key, '_d')
    for i = 0, createCount - 1 do rcall('HSET', key, ARGV[createAt + 2 * i], ARGV[createAt + 1 + 2 * i]) end
  end
  for i = 0, count - 1 do rcall('HSET', key, ARGV[p + 1 + 2 * i], ARGV[p + 2 + 2 * i]) end
else
  -- A delete keeps only the metadata and a tombstone, so a later create starts from nothing.
  local fields = rcall('HKEYS', key)
  for _, f in ipairs(fields) do
    if string.sub(f, 1, 1) ~= '_' then rcall('HDEL', key, f) end
  end
  rcall('HSET', key, '_d', '1')
  value = 1
end

local version = rcall('HINCRBY', key, '_v', 1)
-- A dirty key must never expire (see cacheTtlMs); the acknowledgement sets the expiry again once it is clean.
rcall('PERSIST', key)
local newlyDirty = rcall('ZADD', dirtyKey, 'NX', ARGV[2], key)
if op == 'set' then value = rcall('HGETALL', key) end
return { 0, value, version, newlyDirty }
