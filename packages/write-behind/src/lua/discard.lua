--[[
  An operator's discard: forgets what Redis holds for one key, so that its next use loads it from the
  database. Drops the key's hash (its acknowledged but unflushed writes, a delete not yet flushed, the events
  of an append key waiting to be inserted), its entries in the shard's dirty, failed and clean indexes, its
  events from the shard's count of events waiting, and sets its rankings to the row's values. Its flush jobs
  are removed by the caller (BullMQ's own scripts cannot run inside this one); a job that runs meanwhile
  finds no hash and writes nothing.

  Refused while a flush of the key runs (the lock of its job is held): that flush has read the key already and
  would write it anyway. The argument layout and the statuses are mirrored, by name, in operator/operator.ts.

  KEYS[1] data key    KEYS[2] the shard's dirty index    KEYS[3] the shard's failed index
  KEYS[4] the shard's index of clean keys    KEYS[5] the shard's count of events waiting
  KEYS[6..] the rankings of the entity's ranked fields
  ARGV[1] length of the data key prefix `{tag}:e:` (keys.ts)
  ARGV[2] the prefix of the shard's BullMQ job keys (`{tag}:<queue>:`): a running job holds `<prefix><id>:lock`
  ARGV[3] the version the database holds for the key, as read just before ('' for an append key)
  ARGV[4] most entries a ranking keeps (0: no cap; includes/ranking-cap.lua)
  ARGV[4 + i] for KEYS[5 + i]: the score the key takes in that ranking (the row's value), '' to leave it out
  Returns { status, jobId, failedJobId, droppedEvents, version, flushedVersion }, jobId and failedJobId ''
  when there are none, versions '' when the hash had none.
    status 'discarded': done; 'absent': Redis held no hash (index entries dropped all the same);
    'busy': a flush of the key runs (nothing changed); 'stale': the database took a flush of the key after
    the caller read it (nothing changed: read it again)
]]
--- @include "flush-job-id"
--- @include "key-id"
--- @include "ranking-cap"

local rcall = redis.call
local key = KEYS[1]
local prefixLength = tonumber(ARGV[1])
local jobPrefix = ARGV[2]

local meta = rcall('HMGET', key, '_v', '_fv', '_j', '_a')
local jobId = ''
if meta[3] then jobId = flushJobId(key, prefixLength, meta[3]) end
local failedJobId = rcall('HGET', KEYS[3], key) or ''

for _, id in ipairs({ jobId, failedJobId }) do
  if id ~= '' and rcall('EXISTS', jobPrefix .. id .. ':lock') == 1 then
    return { 'busy', jobId, failedJobId, 0, meta[1] or '', meta[2] or '' }
  end
end

local loaded = tonumber(ARGV[3])
if meta[1] and loaded and tonumber(meta[2] or '0') > loaded then
  return { 'stale', jobId, failedJobId, 0, meta[1] or '', meta[2] or '' }
end

rcall('ZREM', KEYS[2], key)
rcall('HDEL', KEYS[3], key)
rcall('ZREM', KEYS[4], key)
if not meta[1] then return { 'absent', jobId, failedJobId, 0, '', '' } end

local dropped = 0
if meta[4] then
  for _, field in ipairs(rcall('HKEYS', key)) do
    if string.match(field, '^e%d+$') then dropped = dropped + 1 end
  end
  if dropped > 0 then rcall('DECRBY', KEYS[5], dropped) end
end
rcall('DEL', key)

local member = idOfKey(key, prefixLength)
local ranks = rankingCap(tonumber(ARGV[4]))
for i = 6, #KEYS do
  local score = ARGV[i - 1]
  if score == '' then
    rcall('ZREM', KEYS[i], member)
  else
    ranks.set(KEYS[i], member, score)
  end
end
return { 'discarded', jobId, failedJobId, dropped, meta[1] or '', meta[2] or '' }
