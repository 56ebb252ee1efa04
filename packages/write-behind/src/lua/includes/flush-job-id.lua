--[[
  The id of a key's flush job: `entity.id.v<suffix>`, from the data key `{prefix:shard}:e:<entity>:<id>`.
  The suffix is the version that made the key dirty, or `<version>.s<time>` for a job the sweep added:
  unique per dirty period, because BullMQ ignores an add whose id exists and keeps failed jobs under their
  id. `%` and `:` in the id are percent-encoded (BullMQ refuses `:`), which keeps the id injective and
  readable in Bull Board. The only place job ids are made: the write and sweep scripts include it.
]]
local jobIdEscapes = { ['%'] = '%25', [':'] = '%3A' }
local function flushJobId(dataKey, suffix)
  -- The prefix cannot hold braces, so the hash tag ends at the first `}`; `:e:` follows it.
  local rest = string.sub(dataKey, string.find(dataKey, '}', 1, true) + 4)
  local colon = string.find(rest, ':', 1, true)
  local escaped = string.gsub(string.sub(rest, colon + 1), '[%%:]', jobIdEscapes)
  return string.sub(rest, 1, colon - 1) .. '.' .. escaped .. '.v' .. suffix
end
