--[[
  Finds dirty keys that have no flush job: the process that wrote them died between the write and the
  enqueue, their job failed by stalling (its worker died too often, no fault of the key's), or their failed
  job was evicted from the failed set. Gives each a fresh job id suffix, `<version>.s<now>`, in `_j`.

  KEYS[1] the shard's dirty index    KEYS[2] the shard's failed index
  ARGV[1] only keys dirty since before this score (ms)
  ARGV[2] offset to start from (cursor)    ARGV[3] most keys to examine
  ARGV[4] BullMQ job key prefix    ARGV[5] now (ms)    ARGV[6] length of the data key prefix `{tag}:e:`
  Returns { nextOffset, key1, newJobId1, staleJobId1, key2, ... }; nextOffset '' when the scan reached the end;
  staleJobId '' unless the key's last job is still stored, finished but not failed for good by the flush.
  Offsets shift as keys are flushed meanwhile, so a pass may miss a key; the next pass finds it.
]]
--- @include "flush-job-id"

local rcall = redis.call
local limit = tonumber(ARGV[3])
local prefixLength = tonumber(ARGV[6])
local entries = rcall('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', tonumber(ARGV[2]), limit)
local out = { '' }

for i = 1, #entries do
  local key = entries[i]
  local suffix = rcall('HGET', key, '_j')
  local live, stale = false, ''
  if suffix then
    local id = flushJobId(key, prefixLength, suffix)
    local jobKey = ARGV[4] .. id
    if rcall('EXISTS', jobKey) == 1 then
      -- Waiting, delayed or active; or failed for good by the flush, which is the operator's to retry.
      live = rcall('HEXISTS', jobKey, 'finishedOn') == 0 or rcall('HGET', KEYS[2], key) == id
      if not live then stale = id end
    end
  end
  if not live then
    local version = rcall('HGET', key, '_v')
    local fresh = (version or '0') .. '.s' .. ARGV[5]
    -- A dirty-index entry whose hash is gone gets a job too (its flush clears the entry), but no hash.
    if version then rcall('HSET', key, '_j', fresh) end
    out[#out + 1] = key
    out[#out + 1] = flushJobId(key, prefixLength, fresh)
    out[#out + 1] = stale
  end
end
if #entries >= limit then out[1] = tostring(tonumber(ARGV[2]) + limit) end
return out
