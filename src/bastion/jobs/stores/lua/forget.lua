-- Delete up to ARGV[2] done jobs finished before ARGV[1]. KEYS[1]: the key prefix.
local p = KEYS[1]
local ids = redis.call('ZRANGEBYSCORE', p .. 'done', '-inf', '(' .. ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do
  redis.call('DEL', p .. 'job:' .. id)
  redis.call('ZREM', p .. 'done', id)
end
return #ids
