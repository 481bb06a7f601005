-- Renew leases. KEYS[1]: the key prefix. ARGV: worker, lease_until, id...
-- Returns the ids the worker no longer owns.
local p, worker, lease = KEYS[1], ARGV[1], ARGV[2]
local lost = {}
for i = 3, #ARGV do
  local key = p .. 'job:' .. ARGV[i]
  local f = redis.call('HMGET', key, 'state', 'worker', 'queue')
  if f[1] == 'running' and f[2] == worker then
    redis.call('HSET', key, 'lease_until', lease)
    redis.call('ZADD', p .. 'running:' .. f[3], lease, ARGV[i])
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
