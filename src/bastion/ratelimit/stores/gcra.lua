-- GCRA over several limits of one key, all or nothing, in one round trip.
-- KEYS[i]  one string per limit, holding its theoretical arrival time (TAT, µs)
-- ARGV[1]  cost; ARGV[2] 1 to consume, 0 to peek
-- ARGV[1+2i], ARGV[2+2i]  emission interval and burst tolerance of limit i (µs)
-- Returns {allowed, retry_after_us, remaining_1, reset_after_us_1, ...}
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local cost = tonumber(ARGV[1])
local consume = ARGV[2] == '1'
local allowed = 1
local retry = 0
local tats, new_tats = {}, {}

for i = 1, #KEYS do
  local interval = tonumber(ARGV[1 + 2 * i])
  local tolerance = tonumber(ARGV[2 + 2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval * cost
  local allow_at = new_tat - tolerance
  if now < allow_at then
    allowed = 0
    if allow_at - now > retry then retry = allow_at - now end
  end
  tats[i], new_tats[i] = tat, new_tat
end

local result = {allowed, retry}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[1 + 2 * i])
  local tolerance = tonumber(ARGV[2 + 2 * i])
  local tat = tats[i]
  if allowed == 1 and consume then
    tat = new_tats[i]
    -- The key is worthless once the TAT has passed: let Redis drop it then.
    redis.call('SET', KEYS[i], string.format('%d', tat), 'PX', math.max(1, math.ceil((tat - now) / 1000)))
  end
  table.insert(result, math.floor((now - (tat - tolerance)) / interval))
  table.insert(result, tat - now)
end
return result
