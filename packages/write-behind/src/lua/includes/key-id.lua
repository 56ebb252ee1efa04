--[[
  The canonical id in a data key `{prefix:shard}:e:<entity>:<id>`, whose first `prefixLength` characters are
  `{prefix:shard}:e:` (keys.ts): what a ranking holds as its member. The entity name holds no `:`.
]]
local function idOfKey(dataKey, prefixLength)
  local rest = string.sub(dataKey, prefixLength + 1)
  return string.sub(rest, string.find(rest, ':', 1, true) + 1)
end
