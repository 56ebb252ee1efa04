--[[
  The shard's count of events waiting in append keys, `{prefix:shard}:events`, named after the shard's dirty
  index `{prefix:shard}:dirty` (keys.ts builds both), so the scripts that change it need no extra key argument.
  It shares the dirty index's hash tag, hence its Cluster slot.
]]
local function pendingEventsKey(dirtyKey)
  return string.sub(dirtyKey, 1, #dirtyKey - 5) .. 'events'
end
