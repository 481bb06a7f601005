-- Forget the running claim ARGV[1] of KEYS[1], so that a retry runs.
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return 0
end
return redis.call('DEL', KEYS[1])
