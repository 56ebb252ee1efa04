--[[
  Applies one write to a key and marks the key dirty, atomically. The hot path (a warm key that is already
  dirty) costs four commands: HMGET, ZSCORE, and two HINCRBY or HSET.

  KEYS[1] data key (hash)      KEYS[2] the shard's dirty index (sorted set)

  ARGV[1] op: 'incr' | 'set' | 'put' | 'del' ('put' is a 'set' of every field: it returns no value)
  ARGV[2] now, in ms (score of a newly dirty key)
  ARGV[3] backlog limit: most dirty keys before a write to a clean key is refused (0: no limit)
  ARGV[4] '1' when clean keys may expire (cacheTtlMs > 0): a dirty key must not
  ARGV[5] fill: '' (key must be in Redis), 'row' or 'absent' (cold key: state loaded from the database)
  ARGV[6] fill version      ARGV[7] fill pair count n, then n field/value pairs
  then:   missing required fields if the record must be created, create pair count m, m pairs (defaults)
  then for 'incr': field, delta, largest magnitude allowed
       for 'set' and 'put': pair count k, k pairs

  Returns { status, value, version, newlyDirty }
    status 0 ok, 1 cold (load the key and call again with a fill), 2 backlog full (value: dirty count),
           3 counter overflow (value: current), 4 record does not exist (a partial set cannot create it)
    value: 'incr' the new counter value; 'set' the whole hash as a flat list; 'del' 1 if something was deleted
]]
local key, dirtyKey = KEYS[1], KEYS[2]
local rcall = redis.call
local op = ARGV[1]
local fillCount = tonumber(ARGV[7])
local p = 8 + 2 * fillCount
local missingRequired = tonumber(ARGV[p])
local createCount = tonumber(ARGV[p + 1])
local createAt = p + 2
p = createAt + 2 * createCount
local counterField = op == 'incr' and ARGV[p] or '_v'

local meta = rcall('HMGET', key, '_v', '_d', counterField)
local filled = false
if not meta[1] then
  if ARGV[5] == '' then return { 1 } end
  filled = true
  rcall('HSET', key, '_v', ARGV[6], '_fv', ARGV[6])
  for i = 0, fillCount - 1 do rcall('HSET', key, ARGV[8 + 2 * i], ARGV[9 + 2 * i]) end
  if ARGV[5] == 'absent' then rcall('HSET', key, '_d', '1') end
  meta = rcall('HMGET', key, '_v', '_d', counterField)
end

-- A refused write leaves Redis as it found it, including a fill made by this call.
local function refuse(status, detail)
  if filled then rcall('DEL', key) end
  return { status, detail }
end

local exists = not meta[2]
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

local function create()
  if missingRequired > 0 then return false end
  rcall('HDEL', key, '_d')
  for i = 0, createCount - 1 do rcall('HSET', key, ARGV[createAt + 2 * i], ARGV[createAt + 1 + 2 * i]) end
  return true
end

local value
if op == 'incr' then
  local delta, max = tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2])
  local current = exists and tonumber(meta[3] or '0') or 0
  local nextValue = current + delta
  if nextValue > max or nextValue < -max then return refuse(3, tostring(current)) end
  if not exists and not create() then return refuse(4) end
  value = rcall('HINCRBY', key, counterField, delta)
elseif op == 'set' or op == 'put' then
  if not exists and not create() then return refuse(4) end
  -- One HSET for all pairs; the count is bounded by the entity's fields, far below Lua's stack limit.
  local count = tonumber(ARGV[p])
  if count > 0 then rcall('HSET', key, unpack(ARGV, p + 1, p + 2 * count)) end
  value = 0
else
  -- A delete keeps only the metadata and a tombstone, so a later create starts from nothing.
  for _, f in ipairs(rcall('HKEYS', key)) do
    if string.sub(f, 1, 1) ~= '_' then rcall('HDEL', key, f) end
  end
  rcall('HSET', key, '_d', '1')
  value = 1
end

local version = rcall('HINCRBY', key, '_v', 1)
if ARGV[4] == '1' then rcall('PERSIST', key) end
local newlyDirty = 0
if not alreadyDirty then
  rcall('ZADD', dirtyKey, ARGV[2], key)
  -- The suffix of the flush job the caller enqueues: the sweep finds the key's job by it.
  rcall('HSET', key, '_j', version)
  newlyDirty = 1
end
if op == 'set' then value = rcall('HGETALL', key) end
return { 0, value, version, newlyDirty }
