-- Claim up to `limit` jobs from the queues, in order. KEYS[1]: the key prefix.
-- ARGV: worker, now, lease_until, limit, queue...
-- First, per queue: jobs whose lease expired and delayed jobs now due become ready.
-- Returns {id, task, queue, payload, attempt, max_attempts, run_at, enqueued_at} rows.
local p, worker, now, lease, limit = KEYS[1], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local claimed = {}
for i = 5, #ARGV do
  local q = ARGV[i]
  local ready, running, delayed = p .. 'ready:' .. q, p .. 'running:' .. q, p .. 'delayed:' .. q
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', running, '-inf', '(' .. now, 'LIMIT', 0, 100)) do
    redis.call('ZREM', running, id)
    redis.call('HSET', p .. 'job:' .. id, 'state', 'queued', 'worker', '')
    redis.call('ZADD', ready, redis.call('HGET', p .. 'job:' .. id, 'score'), id)
  end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 1000)) do
    redis.call('ZREM', delayed, id)
    redis.call('ZADD', ready, redis.call('HGET', p .. 'job:' .. id, 'score'), id)
  end
  if #claimed < limit then
    local popped = redis.call('ZPOPMIN', ready, limit - #claimed)
    for j = 1, #popped, 2 do
      local id = popped[j]
      local key = p .. 'job:' .. id
      local attempt = redis.call('HINCRBY', key, 'attempts', 1)
      redis.call('HSET', key, 'state', 'running', 'worker', worker,
        'started_at', now, 'lease_until', lease)
      redis.call('ZADD', running, lease, id)
      local f = redis.call('HMGET', key, 'task', 'payload', 'max_attempts', 'run_at', 'enqueued_at')
      claimed[#claimed + 1] = {id, f[1], q, f[2], attempt, f[3], f[4], f[5]}
    end
  end
end
return claimed
