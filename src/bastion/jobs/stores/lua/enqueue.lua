-- Enqueue one job. KEYS[1]: the key prefix.
-- ARGV: id, task, queue, payload, priority, run_at, enqueued_at, max_attempts, dedupe_key, now
-- Returns the id stored, or the id of the live job that holds the dedupe key.
local p, id, queue, dedupe = KEYS[1], ARGV[1], ARGV[3], ARGV[9]
if dedupe ~= '' then
  local holder = redis.call('GET', p .. 'dedupe:' .. dedupe)
  if holder then return holder end
  redis.call('SET', p .. 'dedupe:' .. dedupe, id)
end
-- Ready order: priority first (higher earlier), then enqueue order.
local seq = redis.call('INCR', p .. 'seq')
local score = string.format('%.0f', -tonumber(ARGV[5]) * 1e12 + seq)
redis.call('HSET', p .. 'job:' .. id,
  'task', ARGV[2], 'queue', queue, 'payload', ARGV[4], 'priority', ARGV[5],
  'run_at', ARGV[6], 'enqueued_at', ARGV[7], 'max_attempts', ARGV[8],
  'dedupe_key', dedupe, 'state', 'queued', 'attempts', 0, 'score', score)
redis.call('SADD', p .. 'queues', queue)
if tonumber(ARGV[6]) > tonumber(ARGV[10]) then
  redis.call('ZADD', p .. 'delayed:' .. queue, ARGV[6], id)
else
  redis.call('ZADD', p .. 'ready:' .. queue, score, id)
  redis.call('PUBLISH', p .. 'wake', queue)
end
return id
