-- The wrk script of `npm run bench` (test/bench/run.mjs starts wrk with it; see docs/bench.md).
--
-- Everything comes in through the environment, so that no token or cookie is on a command line:
--   BENCH_WRK_MODE      static     the same request every time; wrk's own count of statuses > 399 is the error count.
--                                  No request()/response() hook, so wrk sends a prebuilt request and skips parsing
--                                  headers and bodies: the cheapest load generation there is.
--                       expect404  the same request every time; every answer other than 404 is counted (the
--                                  junk-cookie row, where wrk's "status > 399" would count every answer).
--                       junk       a new random (device_id, hmac_secret) pair on every request; answers other than
--                                  404 are counted.
--   BENCH_WRK_AUTH      the Authorization header value (optional)
--   BENCH_WRK_COOKIE    the Cookie header value (static and expect404 modes)
--   BENCH_WRK_HEADERS   more headers, one "Name: value" per line (optional)
--   BENCH_WRK_SEED      seed of the random pairs (junk mode); each thread adds its number
--   BENCH_WRK_PIPELINE  requests per write in junk mode (HTTP pipelining), default 1
--   BENCH_WRK_QUOTA     junk mode: answers per thread after which the thread prints "BENCH_DONE" and stops
--   BENCH_WRK_STEP      junk mode: print "BENCH_PROGRESS <step>" after every <step> answers (run.mjs samples the
--                       server's memory then)
--
-- done() prints one line "BENCH_RESULT {json}" that run.mjs parses; latencies are in microseconds.

local mode = os.getenv("BENCH_WRK_MODE") or "static"
local auth = os.getenv("BENCH_WRK_AUTH")
local cookie = os.getenv("BENCH_WRK_COOKIE")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end
if cookie and cookie ~= "" and mode ~= "junk" then wrk.headers["Cookie"] = cookie end
-- BENCH_WRK_HEADERS: more headers, one "Name: value" per line (the forwarded headers of rows 9 and 10).
for line in string.gmatch(os.getenv("BENCH_WRK_HEADERS") or "", "[^\n]+") do
  local name, value = string.match(line, "^([^:]+):%s*(.*)$")
  if name then wrk.headers[name] = value end
end

-- Per-thread counters, read by done() through thread:get().
unexpected = 0
unexpected_status = 0
answers = 0
id = 0

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

if mode == "expect404" or mode == "junk" then
  local quota = tonumber(os.getenv("BENCH_WRK_QUOTA") or "0")
  local step = tonumber(os.getenv("BENCH_WRK_STEP") or "0")

  function response(status)
    answers = answers + 1
    if status ~= 404 then
      unexpected = unexpected + 1
      unexpected_status = status
    end
    if step > 0 and answers % step == 0 then
      io.write("BENCH_PROGRESS ", step, "\n")
      io.flush()
    end
    if quota > 0 and answers == quota then
      io.write("BENCH_DONE\n")
      io.flush()
      wrk.thread:stop()
    end
  end
end

if mode == "junk" then
  local pipeline = tonumber(os.getenv("BENCH_WRK_PIPELINE") or "1")
  local random, format = math.random, string.format

  -- 32 random hex characters: the shape of a real device id or secret, so that each pair passes the format check
  -- and reaches the negative cache (and, on a miss, the database).
  local function hex32()
    return format("%04x%04x%04x%04x%04x%04x%04x%04x", random(0, 65535), random(0, 65535), random(0, 65535),
      random(0, 65535), random(0, 65535), random(0, 65535), random(0, 65535), random(0, 65535))
  end

  function init(args)
    math.randomseed((tonumber(os.getenv("BENCH_WRK_SEED") or "1") + id * 7919) % 2147483647)
  end

  -- wrk.format() takes the headers it is given instead of wrk.headers: start from a copy that has Authorization.
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  function request()
    local parts = {}
    for i = 1, pipeline do
      headers["Cookie"] = "device_id=" .. hex32() .. "; hmac_secret=" .. hex32()
      parts[i] = wrk.format(nil, nil, headers)
    end
    return table.concat(parts)
  end
end

function done(summary, latency, requests)
  local bad, bad_status = 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("unexpected") or 0)
    local s = thread:get("unexpected_status") or 0
    if s ~= 0 then bad_status = s end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"mode":"%s","requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
      '"timeout":%d,"unexpected":%d,"unexpectedStatus":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d}\n',
    mode, summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout, bad, bad_status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
