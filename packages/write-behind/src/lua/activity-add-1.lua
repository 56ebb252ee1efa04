--[[
  Adds to a shard's activity counters (activity.ts) in one command, however many of them changed.

  KEYS[1] the shard's activity hash
  ARGV field, amount, field, amount, ...
]]
for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
return #ARGV / 2
