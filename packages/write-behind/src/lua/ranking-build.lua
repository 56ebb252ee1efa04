--[[
  Adds keys to one shard's ranking of a ranked counter while it is built (see ranking/ranking.ts), and marks
  it built. Idempotent: every key gets the value it has now, so builders may run at once and writes may run
  alongside (a write sets its key's score in the same script as its value: write.lua).

  KEYS[1] the ranking    KEYS[2..] data keys (hashes) of this shard, for one entity
  ARGV[1] the ranked field    ARGV[3] length of the data key prefix `{tag}:e:` (keys.ts)
  ARGV[4] most entries the ranking keeps (0: no cap; includes/ranking-cap.lua): every mode below enters a
          value only where the cap's floor lets it
  ARGV[2] mode:
    'redis'  a key Redis holds in whole takes the value there (0 when the field was never written), a deleted
             one leaves the ranking; a key Redis lacks, or holds partly (made by adds alone: write.lua), is
             entered at -inf unless it is ranked already (a placeholder, which `top` and `rank` skip, for the
             'db' pass to fill) and returned
    'db'     as 'redis' for a key Redis holds in whole; any other key takes its value read from the database
             after the 'redis' pass (ARGV[3 + 2i]: '' when there is no row; ARGV[4 + 2i]: the version read), plus
             for a partial key what the database does not hold yet of its adds (includes/reconcile-key.lua),
             but only if it is still ranked: a delete since the 'redis' pass removed it, and its flush may have
             removed the key from Redis and the row from the database after that read. A partial key whose
             read predates a flush it acknowledged since is returned, to be read again
    'dirty'  as 'redis', but a key Redis lacks is left alone (keys read from the dirty index, whose rows the
             database pass reaches if they have any)
    'score'  keys marked `_r` (an add the capped ranking could not place: write.lua), read from the database
             after their flush committed: as 'db', but a key enters whether ranked or not, and loses its mark
    'seal'   no data keys: marks the ranking built (member '' at -inf, which no id can be), unless it was reset
             since the build began (ARGV[5]: the generation, `g` of `<ranking>:floor`, read then; '' for none)
    'reset'  no data keys: a built, trimmed ranking holding fewer than ARGV[5] entries (deletes and decreases
             took them) cannot answer a `top` of that many: it is dropped, to be built again, and its generation
             moves on, so that a build that began before cannot seal it
  Returns, for 'redis' and 'dirty', the positions (1-based, among the data keys) of the keys needing the
  database's value; for 'db' and 'score', those to read again; for 'seal' and 'reset', 1 when done, else 0.

  A key Redis lacks is clean (a dirty key is never evicted), so the database holds its latest value. The
  database is read between the two passes. A key Redis lacked at the first pass had no write waiting for a
  flush then; a write made since scored the key itself (write.lua: an add to a partial key moves a finite
  score only), and the 'db' pass updates only a key still ranked (ZADD XX), so a delete made and flushed
  between the passes stays deleted. What it cannot see: a key evicted by `cacheTtlMs` between the read and the
  'db' pass after a write flushed in that same gap.
]]
--- @include "key-id"
--- @include "ranking-cap"
local rcall = redis.call
local ranking, field, mode, prefixLength = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local floorKey = ranking .. ':floor'
if mode == 'seal' then
  if (rcall('HGET', floorKey, 'g') or '') ~= ARGV[5] then return 0 end
  rcall('ZADD', ranking, '-inf', '')
  return 1
end
if mode == 'reset' then
  if not rcall('ZSCORE', ranking, '') or rcall('HEXISTS', floorKey, 's') == 0 then return 0 end
  if rcall('ZCOUNT', ranking, '(-inf', '+inf') >= tonumber(ARGV[5]) then return 0 end
  rcall('DEL', ranking)
  rcall('HDEL', floorKey, 's', 'm')
  rcall('HINCRBY', floorKey, 'g', 1)
  return 1
end
local ranks = rankingCap(tonumber(ARGV[4]))

-- A partial key's value of the field: the stored one plus what the database lacks; nil when the read is stale,
-- false when the record does not exist.
local function partialValue(key, stored, version)
  local loaded = tonumber(version)
  local meta = rcall('HMGET', key, '_fv', '_sv')
  if loaded < tonumber(meta[1] or '0') then return nil end
  local takenStored = not meta[2] or loaded >= tonumber(meta[2])
  local sum, touched = 0, false
  local hash = rcall('HGETALL', key)
  for j = 1, #hash, 2 do
    local mark = string.sub(hash[j], 1, 1)
    if mark == '+' or (mark == '~' and not takenStored) then
      touched = true
      if string.sub(hash[j], 2) == field then sum = sum + tonumber(hash[j + 1]) end
    end
  end
  if stored == '' and not touched then return false end
  return (stored == '' and 0 or tonumber(stored)) + sum
end

local missing = {}
for i = 2, #KEYS do
  local key = KEYS[i]
  local meta = rcall('HMGET', key, '_v', '_d', field, '_p')
  local member = idOfKey(key, prefixLength)
  local scored = true
  if meta[1] and not meta[4] then
    if meta[2] then
      rcall('ZREM', ranking, member)
    else
      ranks.set(ranking, member, meta[3] or '0')
    end
  elseif mode == 'db' or mode == 'score' then
    local stored = ARGV[3 + 2 * (i - 1)]
    local value = stored ~= '' and tonumber(stored)
    if meta[1] then value = partialValue(key, stored, ARGV[4 + 2 * (i - 1)]) end
    if value == nil then
      missing[#missing + 1] = i - 1
      scored = false
    elseif value == false then
      rcall('ZREM', ranking, member)
    elseif mode == 'score' then
      ranks.set(ranking, member, string.format('%d', value))
    else
      ranks.update(ranking, member, string.format('%d', value))
    end
  elseif mode == 'redis' or meta[1] then
    rcall('ZADD', ranking, 'NX', '-inf', member)
    missing[#missing + 1] = i - 1
  end
  if mode == 'score' and scored then rcall('HDEL', key, '_r') end
end
return missing
