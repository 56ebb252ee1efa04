--[[
  Adds keys to one shard's ranking of a ranked counter while it is built (see ranking/ranking.ts), and marks
  it built. Idempotent: every key gets the value it has now, so builders may run at once and writes may run
  alongside (a write sets its key's score in the same script as its value: write.lua).

  KEYS[1] the ranking    KEYS[2..] data keys (hashes) of this shard, for one entity
  ARGV[1] the ranked field
  ARGV[2] mode:
    'redis'  a key Redis holds takes the value there (0 when the field was never written), a deleted one
             leaves the ranking; a key Redis lacks is entered at -inf unless it is ranked already (a
             placeholder, which `top` and `rank` skip, for the 'db' pass to fill) and returned
    'db'     as 'redis' for a key Redis holds; a key Redis lacks takes ARGV[2 + i], its value read from the
             database after the 'redis' pass ('' when there is no row: it leaves the ranking), but only if
             it is still ranked: a delete since the 'redis' pass removed it, and its flush may have removed
             the key from Redis and the row from the database after that read
    'dirty'  as 'redis', but a key Redis lacks is left alone (keys read from the dirty index, whose rows the
             database pass reaches if they have any)
    'seal'   no data keys: marks the ranking built (member '' at -inf, which no id can be)
  Returns, for 'redis', the positions (1-based, among the data keys) of the keys Redis lacks; else nothing.

  A key Redis lacks is clean (a dirty key is never evicted), so the database holds its latest value. The
  database is read between the two passes. A key Redis lacked at the first pass had no write waiting for a
  flush then; a write made since scored the key itself (write.lua), and the 'db' pass updates only a key
  still ranked (ZADD XX), so a delete made and flushed between the passes stays deleted. What it cannot see:
  a key evicted by `cacheTtlMs` between the read and the 'db' pass after a write flushed in that same gap.
]]
--- @include "key-id"
local rcall = redis.call
local ranking, field, mode = KEYS[1], ARGV[1], ARGV[2]
if mode == 'seal' then
  rcall('ZADD', ranking, '-inf', '')
  return {}
end
local missing = {}
for i = 2, #KEYS do
  local key = KEYS[i]
  local meta = rcall('HMGET', key, '_v', '_d', field)
  local member = idOfKey(key)
  if meta[1] then
    if meta[2] then
      rcall('ZREM', ranking, member)
    else
      rcall('ZADD', ranking, meta[3] or '0', member)
    end
  elseif mode == 'db' then
    local value = ARGV[i + 1]
    if value == '' then
      rcall('ZREM', ranking, member)
    else
      rcall('ZADD', ranking, 'XX', value, member)
    end
  elseif mode == 'redis' then
    rcall('ZADD', ranking, 'NX', '-inf', member)
    missing[#missing + 1] = i - 1
  end
end
return missing
