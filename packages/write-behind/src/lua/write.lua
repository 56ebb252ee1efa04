--[[
  Applies a batch of writes to keys of one shard, each atomically with its dirty flag, in order. Concurrent
  callers' writes travel together (one round trip, one script call for many writes: see write/batcher.ts);
  each write still gets its own reply, and a refused write changes nothing. The hot path (an increment of a
  key that is already dirty) costs three commands: HMGET and two HINCRBY. The argument layout and the status
  codes below are mirrored, by name, in write/protocol.ts.

  KEYS[1] the shard's dirty index (sorted set)      KEYS[2] the writer's state (hash, see below)
  KEYS[2 + i] data key (hash) of write i
  ARGV[1] now, in ms (score of a newly dirty key)
  ARGV[2] backlog limit: most dirty keys before a write to a clean key is refused (0: no limit)
  ARGV[3] '1' when clean keys may expire (cacheTtlMs > 0): a dirty key must not
  ARGV[4] this batch's number: its writer numbers batches 1, 2, 3... in the order it sends them
  ARGV[5] how many batches' replies the writer state keeps    ARGV[6] ms the writer state lives, renewed every 64 batches
  then one record per write: op, argument count c, then c arguments:
    'i'   (increment of a key Redis holds; the common case)     field, delta, least and largest value allowed,
          and for a ranked field its ranking (sorted set) key
    'a'   (an event of an append entity: see includes/append-event.lua)
    'incr' | 'set' | 'put' | 'del' ('put' is a 'set' of every field: it returns no value)
          fill: '' (key must be in Redis), 'row' or 'absent' (cold key: state loaded from the database),
          fill version, fill pair count n, n field/value pairs,
          missing required fields if the record must be created, create pair count m, m pairs (defaults),
          then for 'incr': field, delta, least and largest value; for 'set' and 'put': pair count k, k pairs;
          then ranked field count r and r pairs: a ranked field of the entity and its ranking key

  Rankings: a ranked counter's value is also the score of the key's id in the shard's ranking of that field
  (keys.ts, `rankingKey`), set here in the same atomic write: an absolute ZADD of the new value on every write
  that leaves the record existing (0 for a counter not yet written), a ZREM on a delete. Ranking keys carry
  the shard's hash tag, so they share the slot of the keys passed in KEYS.

  Returns one reply per write: { status, value, version, jobId }
    status: see the constants below
    value: increments the new counter value (as text); 'set' the whole hash as a flat list; 'del' 1 if something was
           deleted; backlog full the dirty count; overflow the current value
    jobId: only when this write made the key dirty: the id of the flush job the caller enqueues. The key's
           `_j` records the version in it, by which the sweep finds that job.

  Exactly once: a client that loses a connection with a batch unanswered sends it again after reconnecting
  (ioredis does), although Redis may have applied it already. One connection's batches arrive in the order
  they were numbered, so a number not above the writer's last one was applied: the script answers it with
  the replies it kept and applies nothing.
]]
local STATUS_OK = 0
-- The key is not in Redis: load it from the database and write again with a fill.
local STATUS_COLD = 1
local STATUS_BACKLOG_FULL = 2
local STATUS_OVERFLOW = 3
-- The record does not exist and this write cannot create it (a required field is missing).
local STATUS_NOT_FOUND = 4
-- From 'i' only: the key is deleted; write again with 'incr', which may create the record.
local STATUS_DELETED = 5
-- A resent batch too old for its replies to be kept: it was applied once, its outcome is unknown.
local STATUS_UNKNOWN = 6

--- @include "is-dirty"
--- @include "fill-key"
--- @include "flush-job-id"
--- @include "key-id"

local rcall = redis.call
local dirtyKey, writerKey = KEYS[1], KEYS[2]
local now, limit, mayExpire = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'
local batch, kept = tonumber(ARGV[4]), tonumber(ARGV[5])
local replySlot = 'r' .. (batch % kept)

local last = tonumber(rcall('HGET', writerKey, 'n') or '0')
if batch <= last then
  local stored = rcall('HGET', writerKey, replySlot)
  if stored then
    local previous = cmsgpack.unpack(stored)
    if previous[1] == batch then return previous[2] end
  end
  local unknown = {}
  for i = 3, #KEYS do unknown[i - 2] = { STATUS_UNKNOWN } end
  return unknown
end

-- A counter's new value as decimal text: some clients decode an integer reply near 2^53 off by one.
local function asText(number)
  return string.format('%d', number)
end

-- A write to a clean key makes it dirty, unless the backlog is full.
local function backlogFull(alreadyDirty)
  if alreadyDirty or limit <= 0 then return nil end
  local count = rcall('ZCARD', dirtyKey)
  if count >= limit then return count end
  return nil
end

local function finish(key, alreadyDirty, value)
  local version = rcall('HINCRBY', key, '_v', 1)
  if mayExpire then rcall('PERSIST', key) end
  if alreadyDirty then return { STATUS_OK, value, version } end
  rcall('ZADD', dirtyKey, now, key)
  rcall('HSET', key, '_j', version)
  return { STATUS_OK, value, version, flushJobId(key, version) }
end

-- meta: HMGET of _v, _d, a field, _fv
local function increment(key, p, count)
  local field = ARGV[p]
  local meta = rcall('HMGET', key, '_v', '_d', field, '_fv')
  if not meta[1] then return { STATUS_COLD } end
  if meta[2] then return { STATUS_DELETED } end
  local alreadyDirty = isDirty(meta[1], meta[4])
  local full = backlogFull(alreadyDirty)
  if full then return { STATUS_BACKLOG_FULL, full } end
  local delta, least, most = tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2]), tonumber(ARGV[p + 3])
  local current = tonumber(meta[3] or '0')
  local nextValue = current + delta
  if nextValue > most or nextValue < least then return { STATUS_OVERFLOW, tostring(current) } end
  local value = asText(rcall('HINCRBY', key, field, delta))
  -- The score is the value as text: a Lua number would reach Redis rounded to 14 digits.
  if count > 4 then rcall('ZADD', ARGV[p + 4], value, idOfKey(key)) end
  return finish(key, alreadyDirty, value)
end

-- Brings the key's rankings (r pairs of field and ranking key from ARGV[at]) up to date after a write.
local function rank(key, at, deleted)
  local count = tonumber(ARGV[at])
  if count == 0 then return end
  local member = idOfKey(key)
  for j = at + 1, at + 2 * count, 2 do
    if deleted then
      rcall('ZREM', ARGV[j + 1], member)
    else
      rcall('ZADD', ARGV[j + 1], rcall('HGET', key, ARGV[j]) or '0', member)
    end
  end
end

local function write(key, op, p)
  local fillMode, fillVersion, fillCount = ARGV[p], ARGV[p + 1], tonumber(ARGV[p + 2])
  local fillAt = p + 3
  local q = fillAt + 2 * fillCount
  local missingRequired, createCount = tonumber(ARGV[q]), tonumber(ARGV[q + 1])
  local createAt = q + 2
  q = createAt + 2 * createCount
  local counterField = op == 'incr' and ARGV[q] or '_v'
  local rankedAt = q
  if op == 'incr' then
    rankedAt = q + 4
  elseif op == 'set' or op == 'put' then
    rankedAt = q + 1 + 2 * tonumber(ARGV[q])
  end

  local meta = rcall('HMGET', key, '_v', '_d', counterField, '_fv')
  local filled = false
  if not meta[1] then
    if fillMode == '' then return { STATUS_COLD } end
    filled = true
    fillKey(key, fillMode, fillVersion, fillAt, fillCount)
    meta = rcall('HMGET', key, '_v', '_d', counterField, '_fv')
  end

  -- A refused write leaves Redis as it found it, including a fill made by this call.
  local function refuse(status, detail)
    if filled then rcall('DEL', key) end
    return { status, detail }
  end

  local exists = not meta[2]
  if op == 'del' and not exists then
    refuse(STATUS_OK)
    rank(key, rankedAt, true)
    return { STATUS_OK, 0, 0 }
  end

  local alreadyDirty = isDirty(meta[1], meta[4])
  local full = backlogFull(alreadyDirty)
  if full then return refuse(STATUS_BACKLOG_FULL, full) end

  local function create()
    if missingRequired > 0 then return false end
    rcall('HDEL', key, '_d')
    if createCount > 0 then rcall('HSET', key, unpack(ARGV, createAt, createAt + 2 * createCount - 1)) end
    return true
  end

  local value
  if op == 'incr' then
    local delta, least, most = tonumber(ARGV[q + 1]), tonumber(ARGV[q + 2]), tonumber(ARGV[q + 3])
    local current = exists and tonumber(meta[3] or '0') or 0
    local nextValue = current + delta
    if nextValue > most or nextValue < least then return refuse(STATUS_OVERFLOW, tostring(current)) end
    if not exists and not create() then return refuse(STATUS_NOT_FOUND) end
    value = asText(rcall('HINCRBY', key, counterField, delta))
  elseif op == 'set' or op == 'put' then
    if not exists and not create() then return refuse(STATUS_NOT_FOUND) end
    -- One HSET for all pairs; the count is bounded by the entity's fields, far below Lua's stack limit.
    local count = tonumber(ARGV[q])
    if count > 0 then rcall('HSET', key, unpack(ARGV, q + 1, q + 2 * count)) end
    value = 0
  else
    -- A delete keeps only the metadata and a tombstone, so a later create starts from nothing.
    for _, f in ipairs(rcall('HKEYS', key)) do
      if string.sub(f, 1, 1) ~= '_' then rcall('HDEL', key, f) end
    end
    rcall('HSET', key, '_d', '1')
    value = 1
  end
  rank(key, rankedAt, op == 'del')

  local reply = finish(key, alreadyDirty, value)
  if op == 'set' then reply[2] = rcall('HGETALL', key) end
  return reply
end

-- Op 'a', an event of an append entity; after the helpers it uses.
--- @include "append-event"

local replies = {}
local p = 7
for i = 3, #KEYS do
  local op, count = ARGV[p], tonumber(ARGV[p + 1])
  if op == 'i' then
    replies[i - 2] = increment(KEYS[i], p + 2, count)
  elseif op == 'a' then
    replies[i - 2] = appendEvent(KEYS[i], p + 2)
  else
    replies[i - 2] = write(KEYS[i], op, p + 2)
  end
  p = p + 2 + count
end
rcall('HSET', writerKey, 'n', batch, replySlot, cmsgpack.pack({ batch, replies }))
-- Its lifetime is renewed now and then, not per batch: it only has to outlive a reconnect.
if batch % 64 == 1 then rcall('PEXPIRE', writerKey, ARGV[6]) end
return replies
