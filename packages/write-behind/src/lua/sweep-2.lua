--[[
  Finds dirty keys that have no flush job: the process that wrote them died between the write and the
  enqueue, or their failed job was evicted from the failed set.

  KEYS[1] the shard's dirty index    KEYS[2] the shard's failed index
  ARGV[1] only keys dirty since before this score (ms)
  ARGV[2] offset to start from (cursor)    ARGV[3] most keys to examine
  ARGV[4] BullMQ deduplication key prefix    ARGV[5] BullMQ job key prefix    ARGV[6] length of the data key's prefix before `entity:id` (the dedup id)
  Returns { nextOffset, key1, version1, key2, version2, ... }; nextOffset '' when the scan reached the end.
  Offsets shift as keys are flushed meanwhile, so a pass may miss a key; the next pass finds it.
]]
local rcall = redis.call
local limit = tonumber(ARGV[3])
local entries = rcall('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', tonumber(ARGV[2]), limit)
local out = { '' }
local tagLength = tonumber(ARGV[6])
for i = 1, #entries do
  local key = entries[i]
  local hasJob = rcall('EXISTS', ARGV[4] .. string.sub(key, tagLength + 1)) == 1
  if not hasJob then
    local failedJob = rcall('HGET', KEYS[2], key)
    hasJob = failedJob and rcall('EXISTS', ARGV[5] .. failedJob) == 1
  end
  if not hasJob then
    out[#out + 1] = key
    out[#out + 1] = rcall('HGET', key, '_v') or '0'
  end
end
if #entries >= limit then out[1] = tostring(tonumber(ARGV[2]) + limit) end
return out
