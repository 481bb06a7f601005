-- Claim a cron tick. KEYS[1]: the key prefix. ARGV: schedule, tick.
-- Returns 'first', 'claimed' (a later tick than the stored one) or 'taken'.
local ticks = KEYS[1] .. 'ticks'
local previous = redis.call('HGET', ticks, ARGV[1])
if previous and tonumber(previous) >= tonumber(ARGV[2]) then return 'taken' end
redis.call('HSET', ticks, ARGV[1], ARGV[2])
if previous then return 'claimed' end
return 'first'
