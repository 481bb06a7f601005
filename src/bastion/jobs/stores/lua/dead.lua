-- Revive (attempts reset, ready now) or purge dead jobs. KEYS[1]: the key prefix.
-- ARGV: mode (revive, purge), now, id...   Returns how many changed.
local p, mode, now = KEYS[1], ARGV[1], ARGV[2]
local changed = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local key = p .. 'job:' .. id
  local f = redis.call('HMGET', key, 'state', 'queue', 'score')
  if f[1] == 'dead' then
    redis.call('ZREM', p .. 'dead:' .. f[2], id)
    if mode == 'revive' then
      redis.call('HSET', key, 'state', 'queued', 'attempts', 0, 'run_at', now,
        'finished_at', '', 'worker', '')
      redis.call('ZADD', p .. 'ready:' .. f[2], f[3], id)
      redis.call('PUBLISH', p .. 'wake', f[2])
    else
      redis.call('DEL', key)
    end
    changed = changed + 1
  end
end
return changed
