--[[
  The memory budget of one shard's keys (the `memory` option): most keys, and most bytes estimated as keys
  times the average size of a key (`avg` in the shard's memory hash, sampled by `sample`; 256 until then).
  Clean keys wait in the clean index (a sorted set scored by last use); a key that needs room evicts the
  least recently used of them, a few per call, never a dirty key (a key leaves the index when it becomes
  dirty, and enters it when its flush leaves it clean: lua/ack.lua). With both limits 0 every function is a
  no-op and the index is never written.
]]
local DEFAULT_KEY_BYTES = 256
-- Evictions one call may make: a lowered budget is reached over several writes, each one's pause bounded.
local EVICT_PER_CALL = 16
-- A sorted-set entry costs about this much beside its member (skiplist node, dictionary entry, the
-- allocator's rounding): measured, an entry of the dirty or clean index with a 40-byte member took 150 bytes
-- in all (test/api-memory-budget.test.ts measures it).
local INDEX_ENTRY_BYTES = 128

local function memoryBudget(dirtyKey, cleanKey, statsKey, maxKeys, maxBytes)
  local rcall = redis.call
  local on = maxKeys > 0 or maxBytes > 0
  local budget = {}

  function budget.becameDirty(key)
    if on then rcall('ZREM', cleanKey, key) end
  end
  budget.forget = budget.becameDirty

  function budget.becameClean(key, now)
    if on then rcall('ZADD', cleanKey, now, key) end
  end

  -- Makes room for `n` more keys; false when only dirty keys fill the budget.
  function budget.makeRoom(n)
    if not on then return true end
    local most = maxKeys > 0 and maxKeys or math.huge
    if maxBytes > 0 then
      local avg = tonumber(rcall('HGET', statsKey, 'avg') or DEFAULT_KEY_BYTES)
      most = math.min(most, math.floor(maxBytes / math.max(1, avg)))
    end
    local excess = rcall('ZCARD', dirtyKey) + rcall('ZCARD', cleanKey) + n - most
    if excess <= 0 then return true end
    local want = math.min(excess, EVICT_PER_CALL)
    local popped = rcall('ZPOPMIN', cleanKey, want)
    local evicted = 0
    for i = 1, #popped, 2 do evicted = evicted + rcall('DEL', popped[i]) end
    if evicted > 0 then rcall('HINCRBY', statsKey, 'evictions', evicted) end
    return #popped / 2 >= want
  end

  -- Every 32nd batch, measures a few keys to keep `avg` current.
  function budget.sample(batch)
    if not on or maxBytes <= 0 or batch % 32 ~= 0 then return end
    local keys = rcall('ZRANDMEMBER', cleanKey, 4)
    if #keys == 0 then keys = rcall('ZRANDMEMBER', dirtyKey, 4) end
    local total, counted = 0, 0
    for _, key in ipairs(keys) do
      local bytes = rcall('MEMORY', 'USAGE', key)
      if bytes then
        total = total + bytes + #key + INDEX_ENTRY_BYTES
        counted = counted + 1
      end
    end
    if counted == 0 then return end
    local measured = total / counted
    local avg = tonumber(rcall('HGET', statsKey, 'avg') or measured)
    rcall('HSET', statsKey, 'avg', string.format('%d', math.ceil(avg * 0.75 + measured * 0.25)))
  end

  return budget
end
