--[[
  Caches a key loaded from the database for a read, unless a write got there first (Redis then holds newer
  state); a partial key (made by 'add' alone) is made whole from the load (includes/reconcile-key.lua).

  KEYS[1] data key    KEYS[2] the shard's dirty index    KEYS[3] the shard's index of clean keys
  KEYS[4] the shard's memory figures (see includes/memory-budget.lua)
  ARGV[1] ms the key stays cached (0: for ever)    ARGV[2] now, in ms
  ARGV[3] memory budget: most keys in the shard (0: none)    ARGV[4] most bytes (0: none)
  ARGV[5] 'row' or 'absent'   ARGV[6] version   ARGV[7] pair count n, then n field/value pairs
  then the creation arguments of a record made by adds alone: missing required fields, pair count m, m pairs
  Returns { status, hash }: status 'ok' with the key's hash as a flat list (what Redis holds after the call);
  'uncached' with an empty hash when the memory budget left no room (the caller answers from its load);
  'stale' when the load predates a flush the key has acknowledged since (load again); 'absent' when a partial
  key's record has no row and adds alone cannot create it.
]]
--- @include "fill-key"
--- @include "reconcile-key"
--- @include "memory-budget"
--- @include "mark-clean"
local rcall = redis.call
local key = KEYS[1]
local budget = memoryBudget(KEYS[2], KEYS[3], KEYS[4], tonumber(ARGV[3]), tonumber(ARGV[4]))
local count = tonumber(ARGV[7])
local createAt = 8 + 2 * count
local missing, createCount = tonumber(ARGV[createAt]), tonumber(ARGV[createAt + 1])
if rcall('EXISTS', key) == 0 then
  if not budget.makeRoom(1) then return { 'uncached', {} } end
  fillKey(key, ARGV[5], ARGV[6], ARGV, 8, count)
  if tonumber(ARGV[1]) > 0 then rcall('PEXPIRE', key, ARGV[1]) end
  budget.becameClean(key, ARGV[2])
elseif rcall('HEXISTS', key, '_p') == 1 then
  local outcome = reconcileKey(key, ARGV[5], ARGV[6], ARGV, 8, count, missing == 0, ARGV, createAt + 2, createCount,
    function(clean) markClean(clean, KEYS[2], ARGV[1], budget, ARGV[2]) end)
  if outcome ~= 'ok' then return { outcome, {} } end
end
return { 'ok', rcall('HGETALL', key) }
