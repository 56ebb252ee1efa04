--[[
  Leaves a key that holds nothing the database lacks as its acknowledgement would (lua/ack.lua): out of the
  dirty index, free to expire after `ttl` ms (0: never) and, under a memory budget, to be evicted. For the
  scripts that find a key clean outside a flush (includes/reconcile-key.lua). Returns whether it was in the
  dirty index.
]]
local function markClean(key, dirtyKey, ttl, budget, now)
  local wasDirty = redis.call('ZREM', dirtyKey, key) == 1
  if tonumber(ttl) > 0 then redis.call('PEXPIRE', key, ttl) end
  budget.becameClean(key, now)
  return wasDirty
end
