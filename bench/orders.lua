-- wrk script for order creation: POSTs one order body with a fresh Idempotency-Key each time
-- (a repeated key would be replayed, not placed) and reports the 95th percentile latency.
-- Arguments after `--`: the tenant's host and a file holding the JSON order body.
local counter = 0
local prefix = ""
local host, body

init = function(args)
  host = args[1]
  local file = assert(io.open(args[2], "rb"))
  body = file:read("*a")
  file:close()
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
  prefix = string.format("wrk-%08x%08x", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
end

request = function()
  counter = counter + 1
  local headers = {
    ["Host"] = host,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("%s-%d", prefix, counter),
  }
  return wrk.format("POST", "/api/v1/store/orders", headers, body)
end

done = function(summary, latency, requests)
  io.write(string.format("p95_us: %d\n", latency:percentile(95)))
end
