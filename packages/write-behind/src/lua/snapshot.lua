--[[
  Reads the state of keys about to be flushed.

  KEYS[1..] data keys (all of one shard)
  ARGV[i] for KEYS[i]: '0' for a key of an entity whose state the cache holds; for a key of an append entity,
  the most events to take (see appendEvent in write.lua for how its events wait)
  ARGV[#KEYS + 1] the most bytes of events to take from each append key: its events are taken oldest first
  until the next would pass it, but always at least one, so a key with one large event still moves
  ARGV[#KEYS + 2], ARGV[#KEYS + 3] the most events, and bytes of events past the first, of one run (below)
  Returns one entry per data key: when the key is dirty, a msgpack-encoded part, the flat field/value list of
  its hash (for an append key, its head, then its runs: below); no parts when it is clean or gone (nothing to
  write). For a partial key (`_p`, made by 'add' alone: see write.lua) the list is `_p`, `_v` (the version of
  the sums), then `~<field>`, sum: what was added to each counter since the last flush, and `_r` when a capped
  ranking waits for the flush to place the key. Taking them moves them from `+<field>` to `~<field>` and
  records their version in `_sv`, so adds made meanwhile wait for the next flush; until the database's
  acknowledgement clears them (lua/ack.lua), a flush of the key takes the same sums at the same version again,
  which the database's version guard applies at most once. For an append key the first part is `_v` (the number of the
  last event taken), `_fv`, and `_m` when more wait; each part after it is one run of the events taken,
  oldest first: the msgpack array { first, count, events }, `first` the number of its first event (a decimal
  string), the others numbered on from it, `events` their Redis forms joined by commas, as they stand inside
  a JSON array. A run holds at most ARGV[#KEYS + 2] events and, past its first, ARGV[#KEYS + 3] bytes of
  them: what the worker sends as (part of) one insert statement as it is, never touching an event itself (an
  event missing from the hash ends a run). msgpack instead of a RESP element per field: the client decodes
  each part with one call. Parts rather than one string for the batch: a string of megabytes costs Redis
  (packing it) and the client (gathering and decoding it) far more per byte than parts of tens of kilobytes.
]]
--- @include "is-dirty"
local rcall = redis.call
-- Fields one HMGET names: well within Lua's stack.
local CHUNK = 1000

local maxBytes = tonumber(ARGV[#KEYS + 1])
local runEvents = tonumber(ARGV[#KEYS + 2])
local runBytes = tonumber(ARGV[#KEYS + 3])

local function appendSnapshot(key, most)
  local meta = rcall('HMGET', key, '_v', '_fv')
  if not isDirty(meta[1], meta[2]) then return {} end
  local flushed = tonumber(meta[2] or '0')
  local last = math.min(tonumber(meta[1]), flushed + most)
  -- The first part, `_v`, `_fv` and `_m`, is packed last, once the last event taken is known.
  local parts = { false }
  local bytes, taken, full = 0, flushed, false
  local run, runCount, runFirst, runSize = {}, 0, 0, 0
  local function closeRun()
    if runCount == 0 then return end
    parts[#parts + 1] = cmsgpack.pack({ string.format('%d', runFirst), runCount, table.concat(run, ',') })
    run, runCount, runSize = {}, 0, 0
  end
  for from = flushed + 1, last, CHUNK do
    local names = {}
    for n = from, math.min(last, from + CHUNK - 1) do names[#names + 1] = string.format('e%d', n) end
    local events = rcall('HMGET', key, unpack(names))
    for j = 1, #names do
      local event = events[j]
      if event then
        if taken > flushed and bytes + #event > maxBytes then
          full = true
          break
        end
        if runCount > 0 and (runCount >= runEvents or runSize + #event > runBytes) then closeRun() end
        if runCount == 0 then runFirst = from + j - 1 end
        bytes = bytes + #event
        runSize = runSize + #event
        runCount = runCount + 1
        run[runCount] = event
      else
        closeRun()
      end
      taken = from + j - 1
    end
    if full then break end
  end
  closeRun()
  local head = { '_v', string.format('%d', taken), '_fv', string.format('%d', flushed) }
  if taken < tonumber(meta[1]) then
    head[#head + 1] = '_m'
    head[#head + 1] = '1'
  end
  parts[1] = cmsgpack.pack(head)
  return parts
end

local function partialSnapshot(key, hash, version, taken)
  local out = { '_p', '1', '_v', taken or version }
  for j = 1, #hash, 2 do
    local mark = string.sub(hash[j], 1, 1)
    if taken and mark == '~' then
      out[#out + 1] = hash[j]
      out[#out + 1] = hash[j + 1]
    elseif not taken and mark == '+' then
      local name = '~' .. string.sub(hash[j], 2)
      rcall('HSET', key, name, hash[j + 1])
      rcall('HDEL', key, hash[j])
      out[#out + 1] = name
      out[#out + 1] = hash[j + 1]
    elseif hash[j] == '_r' then
      out[#out + 1] = '_r'
      out[#out + 1] = '1'
    end
  end
  if not taken then rcall('HSET', key, '_sv', version) end
  return out
end

local out = {}
for i = 1, #KEYS do
  local most = tonumber(ARGV[i] or '0')
  if most > 0 then
    out[i] = appendSnapshot(KEYS[i], most)
  else
    local hash = rcall('HGETALL', KEYS[i])
    local version, flushed, partial, taken = false, false, false, false
    for j = 1, #hash, 2 do
      local field = hash[j]
      if field == '_v' then
        version = hash[j + 1]
      elseif field == '_fv' then
        flushed = hash[j + 1]
      elseif field == '_p' then
        partial = true
      elseif field == '_sv' then
        taken = hash[j + 1]
      end
    end
    if not isDirty(version, flushed) then
      out[i] = {}
    elseif partial then
      out[i] = { cmsgpack.pack(partialSnapshot(KEYS[i], hash, version, taken)) }
    else
      out[i] = { cmsgpack.pack(hash) }
    end
  end
end
return out
