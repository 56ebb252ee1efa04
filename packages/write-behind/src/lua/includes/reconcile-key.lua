--[[
  Partial keys: a key made by 'add' alone (write.lua) holds no stored values, only `_p`, what was added since
  its last flush (`+<field>`) and, while a flush of it runs, what that flush took (`~<field>`, at version
  `_sv`: lua/snapshot.lua). `reconcileKey` makes it whole from its state loaded from the database (args as
  fill-key.lua's): each counter is the stored value plus what the database does not hold yet. The database
  holds what the running flush took exactly when the row's version reached `_sv` (its statement sets the
  version it applies, guarded by it); what was added since is never stored. A load older than the key's last
  acknowledged flush (`_fv`) may lack that flush's sums: 'stale', load again.

  With no row, the adds create the record, if `creatable` (no required field missing: then the create pairs
  from `create[createAt ..]` give its other fields their defaults); otherwise 'absent', and the key stays
  partial (its flush will name what is missing). With no row and nothing pending, the key is a tombstone.
  Returns 'ok', 'stale' or 'absent'. What the running flush took stays for its acknowledgement (lua/ack.lua)
  unless the database holds it already. When the row holds everything the key had (its flush committed, and
  the acknowledgement never came: its worker died), the key is clean now: `becameClean(key)` takes it out of the
  dirty index, where it would otherwise wait for a flush that finds nothing to write.
]]
--- @include "is-dirty"
local function dropPending(key)
  local drop = {}
  for _, field in ipairs(redis.call('HKEYS', key)) do
    if string.sub(field, 1, 1) == '+' then drop[#drop + 1] = field end
  end
  if #drop > 0 then redis.call('HDEL', key, unpack(drop)) end
  redis.call('HDEL', key, '_p')
end

local function reconcileKey(key, mode, version, fill, fillAt, fillCount, creatable, create, createAt, createCount,
                            becameClean)
  local rcall = redis.call
  local loaded = tonumber(version)
  local meta = rcall('HMGET', key, '_v', '_fv', '_sv')
  if loaded < tonumber(meta[2] or '0') then return 'stale' end
  local takenStored = not meta[3] or loaded >= tonumber(meta[3])
  local sums, taken, touched = {}, {}, false
  local hash = rcall('HGETALL', key)
  for i = 1, #hash, 2 do
    local mark, name = string.sub(hash[i], 1, 1), string.sub(hash[i], 2)
    if mark == '+' or (mark == '~' and not takenStored) then
      sums[name] = (sums[name] or 0) + tonumber(hash[i + 1])
      touched = true
    end
    if mark == '~' then taken[#taken + 1] = hash[i] end
  end
  if mode == 'absent' then
    if touched then
      if not creatable then return 'absent' end
      if createCount > 0 then rcall('HSET', key, unpack(create, createAt, createAt + 2 * createCount - 1)) end
    else
      rcall('HSET', key, '_d', '1')
    end
  elseif fillCount > 0 then
    rcall('HSET', key, unpack(fill, fillAt, fillAt + 2 * fillCount - 1))
  end
  for name, sum in pairs(sums) do rcall('HINCRBY', key, name, sum) end
  dropPending(key)
  if takenStored and #taken > 0 then
    rcall('HDEL', key, '_sv', unpack(taken))
  end
  if loaded > tonumber(meta[2] or '0') then rcall('HSET', key, '_fv', version) end
  if loaded > tonumber(meta[1]) then rcall('HSET', key, '_v', version) end
  local after = rcall('HMGET', key, '_v', '_fv')
  if not isDirty(after[1], after[2]) then becameClean(key) end
  return 'ok'
end
