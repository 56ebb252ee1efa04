--[[
  Applies a batch of writes to keys of one shard, each atomically with its dirty flag, in order. Concurrent
  callers' writes travel together (one round trip, one script call for many writes: see write/write-batcher.ts);
  each write still gets its own reply, and a refused write changes nothing. The argument layout and the
  status codes below are mirrored, by name, in write/protocol.ts, which also decodes the replies.

  KEYS[1] the shard's dirty index (sorted set)       KEYS[2] the writer's state (hash, see below)
  KEYS[3] the shard's version clock (string)          KEYS[4] the shard's count of events waiting (string)
  KEYS[5] the shard's index of clean keys (sorted set, by last use; kept only under a memory budget)
  KEYS[6] the shard's memory figures (hash: avg bytes per key, evictions)
  KEYS[6 + i] data key (hash) of write i
  ARGV[1] now, in ms (score of a newly dirty key)
  ARGV[2] backlog limit: most dirty keys before a write to a clean key is refused (0: no limit)
  ARGV[3] ms a clean key stays cached (cacheTtlMs; 0: for ever): a dirty key must not expire
  ARGV[4] this batch's number: its writer numbers batches 1, 2, 3... in the order it sends them
  ARGV[5] how many batches' replies the writer state keeps    ARGV[6] ms the writer state lives past its last renewal
  ARGV[7] length of the shard's data key prefix `{tag}:e:` (see keys.ts)
  ARGV[8] memory budget, most keys in the shard (0: no budget)   ARGV[9] most bytes of keys in the shard (0: none)
  ARGV[10] most entries a ranking of the shard keeps (0: no cap; see includes/ranking-cap.lua)
  then one record per write: op, argument count c, then c arguments:
    'i'   an increment of a key Redis holds in whole (the common case): field, delta, least and largest
          value allowed, and for a ranked field its ranking (sorted set) key
    'add' an increment that never needs the stored value: the same arguments as 'i'
    'a'   an event of an append entity: the most events that may wait in the shard (0: no limit), the event
    'incr' | 'set' | 'put' | 'del' ('put' is a 'set' of every field: it needs no stored state, returns no value)
          fill: '' (key must be in Redis), 'row' or 'absent' (state loaded from the database),
          fill version, fill pair count n, n field/value pairs,
          missing required fields if the record must be created, create pair count m, m pairs (defaults),
          then for 'incr': field, delta, least and largest value; for 'set' and 'put': pair count k, k pairs;
          then ranked field count r and r pairs: a ranked field of the entity and its ranking key

  A key's hash: `_v` its version, `_fv` the last version the database acknowledged, `_d` a delete, `_j` the
  suffix of its flush job's id. A key held in whole has its fields' values. A key made by 'add' alone is
  partial (`_p`): its counters' stored values are unknown, and it holds what was added since its last flush
  (`+<field>`) and, while a flush of it runs, what that flush took (`~<field>`, taken at version `_sv`; see
  lua/snapshot.lua). A write that needs the whole record loads it and reconciles (includes/reconcile-key.lua).

  Versions come from the shard's clock: each write's version is above the key's last one and above every
  version given before in the shard, and the clock never runs behind the server's time in microseconds. So a
  key that left Redis (expired, evicted, lost) and is written again without reading the database still writes
  versions the database has not seen, which is what lets 'add', 'put' and 'a' skip the read.

  Rankings: a ranked counter's value is also the score of the key's id in the shard's ranking of that field,
  set in the same atomic write: an absolute ZADD on every write that leaves the record whole and existing, a
  ZREM on a delete, a ZINCRBY for an 'add' to a partial key (see `add`). A capped ranking keeps only
  its highest entries (includes/ranking-cap.lua); an 'add' to a partial key it lacks marks the key `_r`, for
  its flush to score.

  Memory budget (ARGV[8], ARGV[9]): a key that comes into Redis needs room; clean keys are evicted least
  recently used first to make it (never a dirty one), and with only dirty keys left the write is refused.

  Returns one reply per write: { status, value, version, jobId }
    status: see the constants below
    value: increments the new counter value (as text); 'set' the whole hash as a flat list; 'del' 1 if something was
           deleted; backlog full the dirty count; overflow the current value
    jobId: only when this write made the key dirty: the id of the flush job the caller enqueues. The key's
           `_j` records the version in it, by which the sweep finds that job.

  Exactly once: a client that loses a connection with a batch unanswered sends it again after reconnecting
  (ioredis does, and the library does until it has a reply: write/send-until-known.ts), although Redis may
  have applied it already. The writer's state (KEYS[2]) is written with each batch's effects, in the same
  atomic call, so on any server (a promoted replica too) it tells exactly which of its batches that server
  holds: `n` the highest batch applied, `f` the first batch the state has seen, `t` when (ARGV[1]) its
  lifetime was last renewed, and `r<batch % kept>` the replies of the batch applied last in that slot. A batch
  numbered up to `n`:
    - whose slot holds it was applied: it is answered with the replies kept and applies nothing;
    - whose slot holds a later batch, or numbered below `f`: applied or not, no one can tell (STATUS_UNKNOWN);
    - otherwise it was never applied here (a resend that lost the race to later batches, or after a failover
      whose replica had not received it): it is applied now. Its writes were in flight together with the later
      batches', so either order is one their callers may see.
  The state lives ARGV[6] ms past its last renewal, and is renewed at least every quarter of that while its
  writer writes, so a batch is never resent to a state that forgot it.
]]
local STATUS_OK = 0
-- The key is not in Redis (or only partly): load it from the database and write again with a fill.
local STATUS_COLD = 1
local STATUS_BACKLOG_FULL = 2
local STATUS_OVERFLOW = 3
-- The record does not exist and this write cannot create it (a required field is missing).
local STATUS_NOT_FOUND = 4
-- From 'i' and 'add' only: the key is deleted; write again with 'incr', which may create the record.
local STATUS_DELETED = 5
-- A resent batch too old for its replies to be kept (or older than the writer's state): it may have been
-- applied once, nothing of it is applied now, its outcome is unknown.
local STATUS_UNKNOWN = 6
-- From an append only: too many events wait in the shard.
local STATUS_EVENT_BACKLOG_FULL = 7
-- The fill was read before a flush the key has acknowledged since: load it again.
local STATUS_STALE = 8
-- The memory budget is spent on dirty keys: nothing can be evicted to make room for a new key.
local STATUS_MEMORY_FULL = 9

--- @include "is-dirty"
--- @include "fill-key"
--- @include "flush-job-id"
--- @include "key-id"
--- @include "reconcile-key"
--- @include "memory-budget"
--- @include "mark-clean"
--- @include "ranking-cap"

local rcall = redis.call
local dirtyKey, writerKey, clockKey, eventsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, limit, cacheTtl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local mayExpire = cacheTtl > 0
local batch, kept = tonumber(ARGV[4]), tonumber(ARGV[5])
local prefixLength = tonumber(ARGV[7])
local budget = memoryBudget(KEYS[1], KEYS[5], KEYS[6], tonumber(ARGV[8]), tonumber(ARGV[9]))
local ranks = rankingCap(tonumber(ARGV[10]))
local replySlot = 'r' .. (batch % kept)

local state = rcall('HMGET', writerKey, 'n', 'f', 't')
local last = tonumber(state[1] or '0')
if batch <= last then
  local stored = rcall('HGET', writerKey, replySlot)
  local previous = stored and cmsgpack.unpack(stored)
  if previous and previous[1] == batch then
    -- Renewed while its writer resends. Being a write, it also makes a WAIT or WAITAOF behind this call count
    -- from here, after the batch's effects wherever they were first applied (Redis 7.0 counts from a script
    -- call that wrote nothing too; this does not depend on it).
    rcall('PEXPIRE', writerKey, ARGV[6])
    return previous[2]
  end
  -- A state written before it had `f` covers no batch it does not hold.
  local first = tonumber(state[2] or (last + 1))
  if (previous and previous[1] > batch) or batch < first then
    local unknown = {}
    for i = 7, #KEYS do unknown[i - 6] = { STATUS_UNKNOWN } end
    return unknown
  end
end

-- The shard's clock, read on first use: at least the last version given and the server's time in µs.
local clock
local function advanceClock(to)
  if not clock then
    local time = rcall('TIME')
    clock = math.max(tonumber(rcall('GET', clockKey) or '0'), tonumber(time[1]) * 1000000 + tonumber(time[2]))
  end
  clock = math.max(clock, to)
end
local function nextVersion(above)
  advanceClock(tonumber(above or '0'))
  clock = clock + 1
  return clock
end

-- A number as decimal text: some clients decode an integer reply near 2^53 off by one, and Lua's own
-- tostring would print a large one in exponent form.
local function asText(number)
  return string.format('%d', number)
end

-- The dirty keys of the shard, read once per batch and counted on as this batch's writes make keys dirty.
local dirtyCount

-- A write to a clean key makes it dirty, unless the backlog is full.
local function backlogFull(alreadyDirty)
  if alreadyDirty or limit <= 0 then return nil end
  dirtyCount = dirtyCount or rcall('ZCARD', dirtyKey)
  if dirtyCount >= limit then return dirtyCount end
  return nil
end

-- Marks a key dirty: in the dirty index, and out of the clean one.
local function markDirty(key)
  rcall('ZADD', dirtyKey, now, key)
  if dirtyCount then dirtyCount = dirtyCount + 1 end
  budget.becameDirty(key)
end

-- A key found clean by its reconciliation (includes/reconcile-key.lua), unless this write marks it dirty again.
local function unmarkClean(key)
  if markClean(key, dirtyKey, cacheTtl, budget, now) and dirtyCount then dirtyCount = dirtyCount - 1 end
end

-- Gives the write its version and, if the key was clean, makes it dirty: the reply's job id says so. `extra`
-- are field/value pairs the caller wants set too, in the same HSET.
local function finish(key, version, alreadyDirty, value, extra)
  local v = asText(nextVersion(version))
  local fields = extra or {}
  fields[#fields + 1] = '_v'
  fields[#fields + 1] = v
  if not alreadyDirty then
    fields[#fields + 1] = '_j'
    fields[#fields + 1] = v
  end
  rcall('HSET', key, unpack(fields))
  if mayExpire then rcall('PERSIST', key) end
  if alreadyDirty then return { STATUS_OK, value, tonumber(v) } end
  markDirty(key)
  return { STATUS_OK, value, tonumber(v), flushJobId(key, prefixLength, v) }
end

-- A counter's next value, unless it would leave [least, most]: then nil and the refusal.
local function checkedSum(current, p)
  local delta, least, most = tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2]), tonumber(ARGV[p + 3])
  local nextValue = current + delta
  if nextValue > most or nextValue < least then return nil, { STATUS_OVERFLOW, asText(current) } end
  return delta
end

-- 'i': meta is HMGET of _v, _d, the field, _fv, _p
local function increment(key, p, count)
  local field = ARGV[p]
  local meta = rcall('HMGET', key, '_v', '_d', field, '_fv', '_p')
  if not meta[1] or meta[5] then return { STATUS_COLD } end
  if meta[2] then return { STATUS_DELETED } end
  local alreadyDirty = isDirty(meta[1], meta[4])
  local full = backlogFull(alreadyDirty)
  if full then return { STATUS_BACKLOG_FULL, full } end
  local delta, refusal = checkedSum(tonumber(meta[3] or '0'), p)
  if not delta then return refusal end
  local value = asText(rcall('HINCRBY', key, field, delta))
  -- The score is the value as text: a Lua number would reach Redis rounded to 14 digits.
  if count > 4 then ranks.set(ARGV[p + 4], idOfKey(key, prefixLength), value) end
  return finish(key, meta[1], alreadyDirty, value)
end

-- 'add': an increment that never reads the database. A key Redis lacks becomes a partial key holding the
-- delta; a partial key adds to its pending delta; a key held in whole takes it as 'i' would.
local function add(key, p, count)
  local field = ARGV[p]
  local meta = rcall('HMGET', key, '_v', '_d', field, '_fv', '_p', '+' .. field)
  if meta[1] and not meta[5] then
    if meta[2] then return { STATUS_DELETED } end
    return increment(key, p, count)
  end
  local alreadyDirty = isDirty(meta[1], meta[4])
  local full = backlogFull(alreadyDirty)
  if full then return { STATUS_BACKLOG_FULL, full } end
  -- Whatever the stored value, a pending sum wider than the column's whole range can never be stored.
  local delta = tonumber(ARGV[p + 1])
  local least, most = tonumber(ARGV[p + 2]), tonumber(ARGV[p + 3])
  local pending = tonumber(meta[6] or '0') + delta
  if math.abs(pending) > most - least then return { STATUS_OVERFLOW, asText(pending) } end
  if not meta[1] and not budget.makeRoom(1) then return { STATUS_MEMORY_FULL } end
  -- A ranked counter's score moves by `delta` too, unless it is a build's placeholder (-inf), whose 'db' pass
  -- adds what is pending. A key the ranking lacks enters at `delta`: right when it has no stored row, and a
  -- build not yet past it replaces it with the stored value plus what is pending (its passes enter such a key
  -- as a placeholder only if absent, then overwrite it: lua/ranking-build.lua). A trimmed ranking cannot place
  -- a key it lacks: the key is marked `_r`, for its flush to place (includes/ranking-cap.lua).
  local unplaced = count > 4 and not ranks.add(ARGV[p + 4], idOfKey(key, prefixLength), delta)
  if meta[1] then
    rcall('HINCRBY', key, '+' .. field, delta)
    return finish(key, meta[1], alreadyDirty, '', unplaced and { '_r', '1' } or nil)
  end
  -- A key Redis lacks: made in one HSET with its version.
  local fields = { '_p', '1', '_fv', '0', '+' .. field, asText(delta) }
  if unplaced then
    fields[#fields + 1] = '_r'
    fields[#fields + 1] = '1'
  end
  return finish(key, nil, false, '', fields)
end

-- Brings the key's rankings (r pairs of field and ranking key from ARGV[at]) up to date after a write.
local function rank(key, at, deleted)
  local count = tonumber(ARGV[at])
  if count == 0 then return end
  local member = idOfKey(key, prefixLength)
  for j = at + 1, at + 2 * count, 2 do
    if deleted then
      rcall('ZREM', ARGV[j + 1], member)
    else
      ranks.set(ARGV[j + 1], member, rcall('HGET', key, ARGV[j]) or '0')
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

  local meta = rcall('HMGET', key, '_v', '_d', counterField, '_fv', '_p')
  -- What this call changed before it knew whether the write stands: 'new' it made the key, 'reconciled' it
  -- turned a partial key whole. A refused write undoes it.
  local made = nil
  if not meta[1] then
    if op == 'put' then
      if not budget.makeRoom(1) then return { STATUS_MEMORY_FULL } end
      rcall('HSET', key, '_v', '0', '_fv', '0')
    elseif fillMode == '' then
      return { STATUS_COLD }
    else
      if not budget.makeRoom(1) then return { STATUS_MEMORY_FULL } end
      fillKey(key, fillMode, fillVersion, ARGV, fillAt, fillCount)
    end
    made = 'new'
  elseif meta[5] then
    if op == 'put' then
      -- Every field is written: what was pending is overwritten, what a running flush took stays for its
      -- acknowledgement (includes/reconcile-key.lua), and the key is whole again.
      dropPending(key)
    elseif fillMode == '' then
      return { STATUS_COLD }
    else
      local outcome = reconcileKey(key, fillMode, fillVersion, ARGV, fillAt, fillCount, missingRequired == 0,
        ARGV, createAt, createCount, unmarkClean)
      if outcome == 'stale' then return { STATUS_STALE } end
      if outcome == 'absent' then return { STATUS_NOT_FOUND } end
    end
  end
  if made or meta[5] then meta = rcall('HMGET', key, '_v', '_d', counterField, '_fv', '_p') end

  -- A refused write leaves Redis as it found it, including a fill made by this call.
  local function refuse(status, detail)
    if made == 'new' then
      rcall('DEL', key)
      budget.forget(key)
    end
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
    local current = exists and tonumber(meta[3] or '0') or 0
    local delta, refusal = checkedSum(current, q)
    if not delta then return refuse(refusal[1], refusal[2]) end
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
      if string.sub(f, 1, 1) ~= '_' and string.sub(f, 1, 1) ~= '~' then rcall('HDEL', key, f) end
    end
    rcall('HSET', key, '_d', '1')
    value = 1
  end
  rank(key, rankedAt, op == 'del')

  local reply = finish(key, meta[1], alreadyDirty, value)
  if op == 'set' then reply[2] = rcall('HGETALL', key) end
  return reply
end

--[[
  'a': an event of an append entity. The key's hash numbers its events: `_v` is the last number given, `_fv`
  the last one the database holds, and event n waits in field `e<n>` until the flush that inserted it is
  acknowledged (lua/ack.lua). The events waiting are therefore exactly e<_fv + 1> .. e<_v>, and the key is dirty
  while there are any: its first event after a flush enqueues the one flush job, later ones ride along. `_a`
  marks the hash as an append key. A key Redis lacks starts its numbering from the shard's clock, above every
  number the database can hold for it, without reading the database: numbers rise per key in the order Redis
  acknowledged the events, consecutive while the key stays in Redis.
]]
local function appendEvent(key, p)
  local eventLimit = tonumber(ARGV[p])
  local meta = rcall('HMGET', key, '_v', '_fv')
  local alreadyDirty = isDirty(meta[1], meta[2])
  local full = backlogFull(alreadyDirty)
  if full then return { STATUS_BACKLOG_FULL, full } end
  if eventLimit > 0 then
    local waiting = tonumber(rcall('GET', eventsKey) or '0')
    if waiting >= eventLimit then return { STATUS_EVENT_BACKLOG_FULL, waiting } end
  end
  local number
  if meta[1] then
    number = tonumber(meta[1]) + 1
    advanceClock(number)
  else
    if not budget.makeRoom(1) then return { STATUS_MEMORY_FULL } end
    number = nextVersion(0)
    rcall('HSET', key, '_a', '1', '_fv', asText(number - 1))
  end
  if mayExpire then rcall('PERSIST', key) end
  rcall('INCR', eventsKey)
  if alreadyDirty then
    rcall('HSET', key, '_v', asText(number), 'e' .. asText(number), ARGV[p + 1])
    return { STATUS_OK, asText(number), number }
  end
  rcall('HSET', key, '_v', asText(number), 'e' .. asText(number), ARGV[p + 1], '_j', asText(number))
  markDirty(key)
  return { STATUS_OK, asText(number), number, flushJobId(key, prefixLength, asText(number)) }
end

local replies = {}
local p = 11
for i = 7, #KEYS do
  local op, count = ARGV[p], tonumber(ARGV[p + 1])
  if op == 'i' then
    replies[i - 6] = increment(KEYS[i], p + 2, count)
  elseif op == 'add' then
    replies[i - 6] = add(KEYS[i], p + 2, count)
  elseif op == 'a' then
    replies[i - 6] = appendEvent(KEYS[i], p + 2)
  else
    replies[i - 6] = write(KEYS[i], op, p + 2)
  end
  p = p + 2 + count
end
-- Not lowered when a clock was lost: the time keeps it ahead.
if clock then rcall('SET', clockKey, asText(clock)) end
budget.sample(batch)
local stateFields = { 'n', math.max(batch, last), replySlot, cmsgpack.pack({ batch, replies }) }
if last == 0 then
  stateFields[#stateFields + 1] = 'f'
  stateFields[#stateFields + 1] = batch
end
-- Its lifetime is renewed now and then, not per batch (by the writer's clock, ARGV[1]): often enough that a
-- writer's state never expires while the writer may still send one of its batches again.
local ttl = tonumber(ARGV[6])
local sinceRenewed = state[3] and tonumber(now) - tonumber(state[3])
local renew = not sinceRenewed or sinceRenewed >= ttl / 4 or sinceRenewed < 0
if renew then
  stateFields[#stateFields + 1] = 't'
  stateFields[#stateFields + 1] = now
end
rcall('HSET', writerKey, unpack(stateFields))
if renew then rcall('PEXPIRE', writerKey, ttl) end
return replies
