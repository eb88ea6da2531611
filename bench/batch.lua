-- batch.lua - wrk script: POST /v1/batch with 100 track messages per request.
--
--   wrk -t2 -c32 -d10s -s bench/batch.lua URL -- "Basic <b64 key:>" [per_batch] [users] [pool]
--
-- Each wrk thread builds `pool` (default 64) distinct request bodies at
-- start, so the Lua side costs nothing per request. Messages are ~250 bytes,
-- carry no messageId (the server assigns one), and draw userIds from
-- `users` (default 10,000) users; properties vary per message. Timestamps
-- fall in the 10 s before the batch's sentAt, as an SDK that flushes its
-- queue every 10 s (analytics-node's default) sends them.
-- done() prints one JSON line (prefix BENCH_JSON) with the counts that
-- matter: requests, 2xx answers, non-2xx answers, socket errors, duration.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local events = { "Product Viewed", "Product Added", "Cart Viewed", "Checkout Started",
  "Order Completed", "Product Searched", "Coupon Applied", "Signed In" }
local cats = { "shoes", "jackets", "bags", "accessories", "shirts", "dresses", "sport", "kids" }
local libs = { '{"name":"analytics-node","version":"2.1.0"}',
  '{"name":"analytics.js","version":"4.1.0"}',
  '{"name":"rudder-sdk-node","version":"2.0.7"}' }

local requests = {}
local nreq = 0
local idx = 0
ok = 0
non2xx = 0

local function message(users)
  local u = math.random(0, users - 1)
  return string.format(
    '{"type":"track","userId":"user-%07d","event":"%s","properties":{"product_id":"sku-%05d",' ..
    '"category":"%s","price":%d.%02d},"context":{"ip":"10.%d.%d.%d",' ..
    '"library":%s},"timestamp":"2024-05-01T12:59:%02d.%03dZ"}',
    u, events[math.random(#events)], math.random(0, 99999), cats[math.random(#cats)],
    math.random(5, 299), math.random(0, 99), math.random(0, 255),
    math.floor(u / 256) % 256, u % 256, libs[math.random(#libs)], math.random(50, 59),
    math.random(0, 999))
end

function init(args)
  local auth = args[1]
  local per = tonumber(args[2] or "100")
  local users = tonumber(args[3] or "10000")
  local pool = tonumber(args[4] or "64")
  math.randomseed(1000 + (tid or 0))
  local headers = { ["Content-Type"] = "application/json" }
  if auth and auth ~= "" then headers["Authorization"] = auth end
  local total = 0
  for i = 1, pool do
    local msgs = {}
    for k = 1, per do
      msgs[k] = message(users)
      total = total + #msgs[k]
    end
    local body = '{"batch":[' .. table.concat(msgs, ",") .. '],"sentAt":"2024-05-01T13:00:00.000Z"}'
    requests[i] = wrk.format("POST", "/v1/batch", headers, body)
  end
  nreq = pool
  bytes_per_message = total / (pool * per) -- mean message size, for the report
end

function request()
  idx = idx % nreq + 1
  return requests[idx]
end

function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 else non2xx = non2xx + 1 end
end

function done(summary, latency, reqs)
  local o, n = 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    n = n + t:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"ok":%d,"non2xx":%d,"status_errors":%d,"socket_errors":%d,' ..
    '"duration_s":%.3f,"lat_p50_ms":%.3f,"lat_p99_ms":%.3f,"lat_max_ms":%.3f,"bytes_per_message":%.0f}\n',
    summary.requests, o, n, e.status, e.connect + e.read + e.write + e.timeout,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, threads[1]:get("bytes_per_message") or 0))
end
