--[[
  A ranking's cap: under a memory budget a shard's ranking of a field keeps only its highest `cap` entries
  (`memory.rankingEntries`; 0: no cap, every record is ranked). What it leaves out is bounded by its floor,
  kept beside it in `<ranking>:floor` (a hash: `s` the score and `m` the member of the highest entry ever
  trimmed; `g` the ranking's generation, see ranking/ranking.ts): every record the ranking lacks orders at or
  below the floor, by score and then by id as Redis orders members, except a key whose adds were made without
  its stored value (`_r` in its hash), which its flush scores (lua/ranking-build.lua, mode 'score'). So the
  entries present are exactly the highest records, and a rank above the floor is exact.

  A ranking never trimmed has no floor, and then holds every record (a build's placeholders, at -inf, aside).
]]
local function rankingCap(cap)
  local rcall = redis.call
  local capped = cap > 0
  local floors = {}
  local ranks = {}

  -- The floor as { score, member }, or false when there is none; read once per ranking per call.
  local function floorOf(ranking)
    if not capped then return false end
    local floor = floors[ranking]
    if floor == nil then
      local stored = rcall('HMGET', ranking .. ':floor', 's', 'm')
      floor = stored[1] and { tonumber(stored[1]), stored[2] } or false
      floors[ranking] = floor
    end
    return floor
  end

  -- Whether `a` orders after `b` as Redis orders members of equal score: bytewise (Lua's own `>` on strings
  -- follows the server's collation locale).
  local function bytesAfter(a, b)
    for i = 1, math.min(#a, #b) do
      local x, y = string.byte(a, i), string.byte(b, i)
      if x ~= y then return x > y end
    end
    return #a > #b
  end

  -- Whether an entry (score, member) orders above the floor, so that the ranking keeps it.
  local function abovePlace(ranking, score, member)
    local floor = floorOf(ranking)
    if not floor then return true end
    return score > floor[1] or (score == floor[1] and bytesAfter(member, floor[2]))
  end

  -- Trims the ranking to its cap: the lowest entries go (not the -inf ones: the built mark and a build's
  -- placeholders), and the floor rises to the highest of them.
  local function trim(ranking)
    local excess = rcall('ZCOUNT', ranking, '(-inf', '+inf') - cap
    if excess <= 0 then return end
    local lowest = rcall('ZRANGE', ranking, '(-inf', '+inf', 'BYSCORE', 'LIMIT', 0, excess, 'WITHSCORES')
    local members = {}
    for i = 1, #lowest, 2 do members[#members + 1] = lowest[i] end
    rcall('ZREM', ranking, unpack(members))
    local score, member = lowest[#lowest], lowest[#lowest - 1]
    rcall('HSET', ranking .. ':floor', 's', score, 'm', member)
    floors[ranking] = { tonumber(score), member }
  end

  -- The record `member` now has `value` (decimal text): its entry, if it belongs in the ranking.
  function ranks.set(ranking, member, value)
    if not capped then
      rcall('ZADD', ranking, value, member)
    elseif abovePlace(ranking, tonumber(value), member) then
      rcall('ZADD', ranking, value, member)
      trim(ranking)
    else
      rcall('ZREM', ranking, member)
    end
  end

  -- As `set`, but only for a member still ranked (a build's second pass: lua/ranking-build.lua).
  function ranks.update(ranking, member, value)
    if not capped then
      rcall('ZADD', ranking, 'XX', value, member)
    elseif abovePlace(ranking, tonumber(value), member) then
      rcall('ZADD', ranking, 'XX', value, member)
      trim(ranking)
    else
      rcall('ZREM', ranking, member)
    end
  end

  --[[
    An add of `delta` to a record whose value Redis does not hold (a partial key). A ranked entry moves by it
    (a build's placeholder, -inf, is left for the build to fill). A record the ranking lacks enters at
    `delta` (right when it has no stored row; a build not yet past it replaces it), unless the ranking was
    trimmed: then its value may be anything up to the floor plus `delta`, and the caller marks the key for its
    flush to score. Returns false in that case.
  ]]
  function ranks.add(ranking, member, delta)
    local score = rcall('ZSCORE', ranking, member)
    if score == '-inf' then return true end
    if not score and floorOf(ranking) then return false end
    local value = rcall('ZINCRBY', ranking, delta, member)
    if capped then
      if abovePlace(ranking, tonumber(value), member) then
        trim(ranking)
      else
        rcall('ZREM', ranking, member)
      end
    end
    return true
  end

  return ranks
end
