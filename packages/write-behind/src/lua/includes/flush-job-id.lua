--[[
  The id of a key's flush job: `entity.id.v<suffix>`, from the data key `{prefix:shard}:e:<entity>:<id>`,
  whose first `prefixLength` characters are `{prefix:shard}:e:` (keys.ts). The suffix is the version that
  made the key dirty, or `<version>.s<time>` for a job the sweep added: unique per dirty period, because
  BullMQ ignores an add whose id exists and keeps failed jobs under their id. `%` and `:` in the id are
  percent-encoded (BullMQ refuses `:`), which keeps the id injective and readable in Bull Board. The only
  place flush job ids are made: the write and sweep scripts include it.
]]
local jobIdEscapes = { ['%'] = '%25', [':'] = '%3A' }
local function flushJobId(dataKey, prefixLength, suffix)
  local rest = string.sub(dataKey, prefixLength + 1)
  local colon = string.find(rest, ':', 1, true)
  local escaped = string.gsub(string.sub(rest, colon + 1), '[%%:]', jobIdEscapes)
  return string.sub(rest, 1, colon - 1) .. '.' .. escaped .. '.v' .. suffix
end
