-- Store the response of the running claim ARGV[1]; keep it ARGV[5] ms.
-- KEYS[1] the key; ARGV[2] status, ARGV[3] headers (JSON), ARGV[4] body.
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return 0
end
redis.call('HDEL', KEYS[1], 'token')
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'headers', ARGV[3], 'body', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
