--[[
  The canonical id in a data key `{prefix:shard}:e:<entity>:<id>`: what a ranking holds as its member. The
  prefix cannot hold braces, so the hash tag ends at the first `}`; `:e:` follows it, and the entity name
  holds no `:`.
]]
local function idOfKey(dataKey)
  local rest = string.sub(dataKey, string.find(dataKey, '}', 1, true) + 4)
  return string.sub(rest, string.find(rest, ':', 1, true) + 1)
end
