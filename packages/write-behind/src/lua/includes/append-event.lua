--[[
  Op 'a' of write.lua: appends one event to a key of an append entity. Included by write.lua after its own
  helpers (`backlogFull`, `finish`, `fillKey`, `isDirty`, the STATUS_ constants), so the batching, the order of
  a batch's writes and the resend guard are the write script's own.

  The key's hash numbers its events: `_v` is the last number given, `_fv` the last one the database holds, and
  event n waits in field `e<n>` until the flush that inserted it is acknowledged (lua/ack.lua). The events
  waiting are therefore exactly e<_fv + 1> .. e<_v>, and the key is dirty while there are any: its first event
  after a flush enqueues the one flush job (the same job id scheme as every key), later ones ride along.
  `_a` marks the hash as an append key for the snapshot and the acknowledgement.

  Arguments from ARGV[p]: fill mode ('' when the key must be in Redis, 'row' for a cold key), fill version (the
  highest number the database holds for the key), the most events that may wait in the shard (0: no limit),
  the event (opaque here: the codec's encoding).
  Reply: { status, the event's number, the key's version (the same number), jobId when the key became dirty };
  refusals: { STATUS_BACKLOG_FULL, dirty keys } or { STATUS_EVENT_BACKLOG_FULL, events waiting }.
]]
local STATUS_EVENT_BACKLOG_FULL = 7
--- @include "pending-events-key"

local pendingEvents = pendingEventsKey(dirtyKey)

local function appendEvent(key, p)
  local fillMode, fillVersion, eventLimit = ARGV[p], ARGV[p + 1], tonumber(ARGV[p + 2])
  local meta = rcall('HMGET', key, '_v', '_fv')
  local filled = false
  if not meta[1] then
    if fillMode == '' then return { STATUS_COLD } end
    fillKey(key, 'row', fillVersion, 0, 0)
    rcall('HSET', key, '_a', '1')
    filled = true
    meta = { fillVersion, fillVersion }
  end
  local alreadyDirty = isDirty(meta[1], meta[2])
  local status, detail
  local full = backlogFull(alreadyDirty)
  if full then
    status, detail = STATUS_BACKLOG_FULL, full
  elseif eventLimit > 0 then
    local waiting = tonumber(rcall('GET', pendingEvents) or '0')
    if waiting >= eventLimit then status, detail = STATUS_EVENT_BACKLOG_FULL, waiting end
  end
  if status then
    -- A refused write leaves Redis as it found it, including a fill made by this call.
    if filled then rcall('DEL', key) end
    return { status, detail }
  end
  local reply = finish(key, alreadyDirty, 0)
  rcall('HSET', key, string.format('e%d', reply[3]), ARGV[p + 3])
  rcall('INCR', pendingEvents)
  reply[2] = reply[3]
  return reply
end
