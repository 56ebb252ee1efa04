--[[
  Whether a key holds writes the database lacks: its version `_v` is above the last version flushed, `_fv`.
  Every write raises `_v` before it marks the key dirty, and the acknowledgement that unmarks it sets `_fv` to
  the version written, so this agrees with the dirty index without reading it.
]]
local function isDirty(version, flushedVersion)
  return version ~= false and version ~= nil and tonumber(version) > tonumber(flushedVersion or '0')
end
