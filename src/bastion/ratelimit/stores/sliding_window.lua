-- Exact sliding-window log over several limits of one key, all or nothing.
-- KEYS[i]  a sorted set per limit: one member per hit, scored by its time (µs)
-- ARGV[1]  cost; ARGV[2] 1 to consume, 0 to peek
-- ARGV[1+2i], ARGV[2+2i]  amount and window length (µs) of limit i
-- Returns {allowed, retry_after_us, remaining_1, reset_after_us_1, ...}
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local cost = tonumber(ARGV[1])
local consume = ARGV[2] == '1'
local allowed = 1
local retry = 0
local counts = {}

for i = 1, #KEYS do
  local amount = tonumber(ARGV[1 + 2 * i])
  local period = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - period)
  local count = redis.call('ZCARD', KEYS[i])
  if count + cost > amount then
    allowed = 0
    -- Wait until enough of the oldest hits leave the window.
    local index = count + cost - amount - 1
    local free_at = now + period
    if index < count then
      free_at = tonumber(redis.call('ZRANGE', KEYS[i], index, index, 'WITHSCORES')[2]) + period
    end
    if free_at - now > retry then retry = free_at - now end
  end
  counts[i] = count
end

local result = {allowed, retry}
for i = 1, #KEYS do
  local amount = tonumber(ARGV[1 + 2 * i])
  local period = tonumber(ARGV[2 + 2 * i])
  local count = counts[i]
  if allowed == 1 and consume then
    for c = 1, cost do
      redis.call('ZADD', KEYS[i], now, string.format('%d:%d', now, count + c))
    end
    redis.call('PEXPIRE', KEYS[i], math.ceil(period / 1000))
    count = count + cost
  end
  local reset = 0
  if count > 0 then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')[2]
    reset = tonumber(oldest) + period - now
  end
  table.insert(result, amount - count)
  table.insert(result, reset)
end
return result
