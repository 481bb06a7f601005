-- End a run of a job the worker owns. KEYS[1]: the key prefix.
-- ARGV: mode (ack, retry, bury, release), id, worker, time (now, or run_at for retry), error
-- Returns 1, or 0 (and changes nothing) when the worker no longer owns the job.
local p, mode, id, worker, t, err = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local key = p .. 'job:' .. id
local f = redis.call('HMGET', key, 'state', 'worker', 'queue', 'dedupe_key', 'score')
if f[1] ~= 'running' or f[2] ~= worker then return 0 end
local q = f[3]
redis.call('ZREM', p .. 'running:' .. q, id)
local function free_dedupe()
  local dk = p .. 'dedupe:' .. f[4]
  if f[4] ~= '' and redis.call('GET', dk) == id then redis.call('DEL', dk) end
end
if mode == 'ack' then
  redis.call('HSET', key, 'state', 'done', 'finished_at', t, 'lease_until', '')
  redis.call('ZADD', p .. 'done', t, id)
  free_dedupe()
elseif mode == 'retry' then
  redis.call('HSET', key, 'state', 'queued', 'run_at', t, 'error', err,
    'worker', '', 'lease_until', '')
  redis.call('ZADD', p .. 'delayed:' .. q, t, id)
elseif mode == 'bury' then
  redis.call('HSET', key, 'state', 'dead', 'finished_at', t, 'error', err, 'lease_until', '')
  redis.call('ZADD', p .. 'dead:' .. q, t, id)
  free_dedupe()
else -- release: back to the front of its priority, this attempt not counted
  redis.call('HINCRBY', key, 'attempts', -1)
  redis.call('HSET', key, 'state', 'queued', 'worker', '', 'lease_until', '')
  redis.call('ZADD', p .. 'ready:' .. q, f[5], id)
  redis.call('PUBLISH', p .. 'wake', q)
end
return 1
