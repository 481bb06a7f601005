-- Claim an idempotency key, or say why not. One hash per key:
-- fp (fingerprint), token (while running), status, headers, body (when done).
-- KEYS[1] the key; ARGV[1] fingerprint, ARGV[2] token, ARGV[3] lease in ms.
-- A running key lives for its lease only: a holder that dies frees it.
local current = redis.call('HMGET', KEYS[1], 'fp', 'status', 'headers', 'body')
if not current[1] then
  redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'token', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'started'}
end
if current[1] ~= ARGV[1] then
  return {'mismatch'}
end
if not current[2] then
  return {'in_progress'}
end
return {'replay', current[2], current[3], current[4]}
