--[[
  Caches the state loaded from the database for a key Redis does not hold: its version (also the last
  flushed one: the database has it), its fields, and a tombstone when there is no row.
  mode 'row' or 'absent'; pairs are args[from .. from + 2 * count - 1], field/value.
]]
local function fillKey(key, mode, version, args, from, count)
  redis.call('HSET', key, '_v', version, '_fv', version)
  if count > 0 then redis.call('HSET', key, unpack(args, from, from + 2 * count - 1)) end
  if mode == 'absent' then redis.call('HSET', key, '_d', '1') end
end
