--[[
  The highest entries of one shard's ranking of a ranked counter (see keys.ts, `rankingKey`).

  KEYS[1] the ranking (sorted set: member the canonical id, score the counter's value)
  ARGV[1] how many entries, n (at least 1)
  Returns nil while the ranking is not built (no member '', the mark a finished build leaves), else
  { complete, entries }: entries a flat list id1, score1, id2, score2, ... of at most n entries, highest score
  first, equal scores by id descending (Redis's order: bytewise); complete 0 when the ranking was trimmed
  (includes/ranking-cap.lua: it has a floor) and holds fewer than n entries, so records it left out may belong
  among them, else 1. Entries at -inf are not values: the mark, and a build's placeholders (see
  ranking-build.lua).
]]
local ranking = KEYS[1]
if not redis.call('ZSCORE', ranking, '') then return nil end
local n = tonumber(ARGV[1])
-- One more than asked: the mark scores -inf, so it is last, and only there when the shard has n or fewer.
local entries = redis.call('ZREVRANGE', ranking, 0, n, 'WITHSCORES')
local out = {}
for i = 1, #entries, 2 do
  if entries[i + 1] ~= '-inf' and #out < 2 * n then
    out[#out + 1] = entries[i]
    out[#out + 1] = entries[i + 1]
  end
end
local complete = 1
if #out < 2 * n and redis.call('HEXISTS', ranking .. ':floor', 's') == 1 then complete = 0 end
return { complete, out }
