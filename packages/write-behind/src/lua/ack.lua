--[[
  Records that the database now holds given versions of keys.

  KEYS[1] the shard's dirty index    KEYS[2] the shard's failed index    KEYS[3] the shard's count of events
  waiting    KEYS[4] the shard's index of clean keys (see includes/memory-budget.lua)    KEYS[5..] data keys
  ARGV[1] now, in ms    ARGV[2] ms a clean key stays cached (0: for ever)    ARGV[3] '1' under a memory budget
  ARGV[4..] the version written for each data key, or 'c' for a key the flush found clean or gone

  A key whose version is unchanged becomes clean (a flushed tombstone is removed entirely: the database
  remembers the delete; so is a partial key, which holds nothing the database lacks), and a clean key may
  expire or, under a memory budget, be evicted: the database holds it. Sums a partial key's flush took
  (`~<field>`, `_sv`: lua/snapshot.lua) go once the database holds their version. A key written meanwhile stays
  dirty with a fresh score, and needs another flush. Either way its failed-job marker goes: it was written.
  An append key (`_a`, see appendEvent in write.lua) also drops the events the database now holds, those
  numbered from its old `_fv` + 1 to the version written, and takes them off the shard's count of events
  waiting; events appended meanwhile stay, and keep the key dirty.
  A key the flush found clean or gone ('c') is acknowledged as it stands now: its job ran, so it leaves the
  dirty index unless written since (then the write that made it dirty enqueued the job that flushes it). An
  entry whose key holds nothing dirty comes from Redis losing the hash (an eviction, a DEL) or from a state a
  script left; acknowledged, it no longer waits in the dirty index for ever, re-enqueued by every sweep and
  holding every drain up.
  Returns one flag per data key as one string, '1' still dirty and '0' clean: a single bulk reply is cheaper
  for the client to decode than an integer per key.
]]
--- @include "is-dirty"
local rcall = redis.call
local out = {}
-- The failed index is almost always empty: skip a command per key when it is.
local anyFailed = rcall('HLEN', KEYS[2]) > 0
local ttl = tonumber(ARGV[2])
local budgetOn = ARGV[3] == '1'
local FIRST = 5
local eventsRemoved = 0
-- Fields one HDEL or HMGET names: well within Lua's stack.
local CHUNK = 1000
-- An append key's fields besides its events (see appendEvent in write.lua).
local APPEND_FIELDS = { '_a', '_fv', '_v', '_j' }
local function deleteEvents(key, from, to)
  for first = from, to, CHUNK do
    local names = {}
    for n = first, math.min(to, first + CHUNK - 1) do names[#names + 1] = string.format('e%d', n) end
    eventsRemoved = eventsRemoved + rcall('HDEL', key, unpack(names))
  end
end
--[[
  Drops events from..to of an append key whose last event is `last`. When most of its events go, the key is
  made again from what stays (its own fields, the events after `to`): removing each event costs Redis a name
  to format and a lookup (about 0.4 µs an event, measured), where UNLINK hands the hash to a background
  thread whole, and the hash made again takes its compact encoding. Only when the hash holds exactly those
  fields and events (HLEN, and every event kept found), as an append key does; else one HDEL per event.
]]
local function dropEvents(key, from, to, last)
  local dropped, kept = to - from + 1, last - to
  if kept < dropped and kept <= CHUNK then
    local own = rcall('HMGET', key, unpack(APPEND_FIELDS))
    local fields = {}
    for i, name in ipairs(APPEND_FIELDS) do
      if own[i] then
        fields[#fields + 1] = name
        fields[#fields + 1] = own[i]
      end
    end
    local whole = rcall('HLEN', key) == #fields / 2 + dropped + kept
    if whole and kept > 0 then
      local names = {}
      for n = to + 1, last do names[#names + 1] = string.format('e%d', n) end
      local events = rcall('HMGET', key, unpack(names))
      for i = 1, kept do
        whole = whole and events[i] ~= false
        fields[#fields + 1] = names[i]
        fields[#fields + 1] = events[i]
      end
    end
    if whole then
      rcall('UNLINK', key)
      rcall('HSET', key, unpack(fields))
      eventsRemoved = eventsRemoved + dropped
      return
    end
  end
  deleteEvents(key, from, to)
end
-- Clean keys leave the dirty index in one ZREM per 500, not one per key.
local clean = {}
local function unmark(key)
  clean[#clean + 1] = key
  if #clean == 500 then
    rcall('ZREM', KEYS[1], unpack(clean))
    clean = {}
  end
end
-- Drops the sums a partial key's flush took, once the database holds their version.
local function dropTaken(key)
  local drop = { '_sv' }
  for _, field in ipairs(rcall('HKEYS', key)) do
    if string.sub(field, 1, 1) == '~' then drop[#drop + 1] = field end
  end
  rcall('HDEL', key, unpack(drop))
end
for i = FIRST, #KEYS do
  local key = KEYS[i]
  local meta = rcall('HMGET', key, '_v', '_fv', '_d', '_a', '_p', '_sv')
  local current = tonumber(meta[1])
  local foundClean = ARGV[i - 1] == 'c'
  local reply = '0'
  if foundClean and isDirty(meta[1], meta[2]) then
    -- Written since the flush found it clean: that write enqueued the job that flushes it.
    reply = '1'
  else
    local flushed = foundClean and (current or 0) or tonumber(ARGV[i - 1])
    if anyFailed then rcall('HDEL', KEYS[2], key) end
    if meta[4] and flushed > tonumber(meta[2] or '0') then
      dropEvents(key, tonumber(meta[2] or '0') + 1, flushed, current or flushed)
    end
    if current == nil then
      unmark(key)
    elseif current == flushed then
      unmark(key)
      if meta[3] or meta[5] then
        rcall('DEL', key)
      else
        if meta[6] then dropTaken(key) end
        if flushed > tonumber(meta[2] or '0') then rcall('HSET', key, '_fv', flushed) end
        if ttl > 0 then rcall('PEXPIRE', key, ttl) end
        if budgetOn then rcall('ZADD', KEYS[4], ARGV[1], key) end
      end
    else
      if meta[6] and flushed >= tonumber(meta[6]) then dropTaken(key) end
      if flushed > tonumber(meta[2] or '0') then rcall('HSET', key, '_fv', flushed) end
      rcall('ZADD', KEYS[1], 'XX', ARGV[1], key)
      reply = '1'
    end
  end
  out[i - FIRST + 1] = reply
end
if #clean > 0 then rcall('ZREM', KEYS[1], unpack(clean)) end
if eventsRemoved > 0 then rcall('DECRBY', KEYS[3], eventsRemoved) end
return table.concat(out)
