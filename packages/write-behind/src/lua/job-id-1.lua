--[[
  The id of a key's current flush job (see includes/flush-job-id.lua), for tools and tests that look a key's
  job up in BullMQ; false when the key has none recorded.

  KEYS[1] data key    ARGV[1] length of the data key prefix `{tag}:e:` (keys.ts)
]]
--- @include "flush-job-id"
local suffix = redis.call('HGET', KEYS[1], '_j')
if not suffix then return false end
return flushJobId(KEYS[1], tonumber(ARGV[1]), suffix)
