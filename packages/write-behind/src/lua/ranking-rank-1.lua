--[[
  One shard's part of a rank: how many of its entries score above a value (a rank counts them across
  shards, plus one).

  KEYS[1] the ranking (sorted set: member the canonical id, score the counter's value)
  ARGV[1] a member, whose score is the value to count above ('' to use ARGV[2])
  ARGV[2] the value to count above, when ARGV[1] is ''
  Returns { 0 } while the ranking is not built; { 1 } when ARGV[1] is not ranked (no such record, or, in a
  trimmed ranking, one below its floor: includes/ranking-cap.lua); else { 1, count above, score, floor }, the
  floor the score of the highest entry the ranking ever trimmed ('' when none): the count is exact for a value
  at or above it, as every record the ranking lacks scores at most that.
]]
local ranking = KEYS[1]
if not redis.call('ZSCORE', ranking, '') then return { 0 } end
local score = ARGV[2]
if ARGV[1] ~= '' then
  score = redis.call('ZSCORE', ranking, ARGV[1])
  -- -inf: a build's placeholder for a key it has not read yet (see ranking-build.lua), not a value.
  if not score or score == '-inf' then return { 1 } end
end
local floor = redis.call('HGET', ranking .. ':floor', 's') or ''
return { 1, redis.call('ZCOUNT', ranking, '(' .. score, '+inf'), score, floor }
