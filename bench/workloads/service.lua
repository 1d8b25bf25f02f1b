-- SPDX-License-Identifier: GPL-2.0
-- wrk's script for the service workload (bench/workloads/service.py): each
-- request asks for a random key of the data set (GET /k/KEY), and every
-- response is checked: status 200, and the body equal to the one the runner
-- computed for its key in a process of its own (the Lua table in the file
-- SERVICE_EXPECTED: {[KEY] = BODY, ...}). The body names its key, so a
-- response is checked without knowing which request it answers. done()
-- prints one line "service-wrk: {JSON}": wrk's own figures (requests,
-- duration, socket errors), the checks' counts and the latency percentiles.
--
-- The latencies are timed here, request to response, with one connection
-- per wrk thread (service.py runs as many threads as connections), so that
-- requests and responses of a thread alternate. wrk's own percentiles are
-- corrected for coordinated omission (stats_correct(): every response
-- slower than twice the mean interval per connection adds made-up samples),
-- which inflates p99 most in the phases that matter here: kept as
-- "p99_corrected", not used.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long s; long ns; } service_ts;
int clock_gettime(int clock, service_ts *ts);
]]
local ts = ffi.new("service_ts")
local function now_us()
   ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
   return tonumber(ts.s) * 1e6 + tonumber(ts.ns) / 1e3
end

-- Globals, as done() reads them from each thread's state (thread:get).
checked, non200, mismatch, example = 0, 0, 0, ""
lat = {}
local started
local expected, keys

function init(args)
   local path = os.getenv("SERVICE_EXPECTED")
   if not path then
      error("service.lua: SERVICE_EXPECTED names no file of expected bodies")
   end
   expected = dofile(path)
   keys = 0
   while expected[keys] do keys = keys + 1 end
   math.randomseed(os.time() * 100 + id)
end

function request()
   started = now_us()
   return wrk.format("GET", "/k/" .. math.random(0, keys - 1))
end

function response(status, headers, body)
   if started then
      lat[#lat + 1] = now_us() - started
      started = nil
   end
   checked = checked + 1
   if status ~= 200 then
      non200 = non200 + 1
      if example == "" then example = "status " .. status .. ": " .. body:sub(1, 60) end
      return
   end
   local key = tonumber(body:match("^key=(%d+) "))
   if key == nil or expected[key] ~= body then
      mismatch = mismatch + 1
      if example == "" then example = "body: " .. body:sub(1, 60) end
   end
end

-- setup() and done() run in wrk's main Lua state; setup() of a thread
-- before its init().
local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads)
end

function done(summary, latency, requests)
   local c, n, m, ex, all = 0, 0, 0, "", {}
   for _, t in ipairs(threads) do
      c = c + t:get("checked")
      n = n + t:get("non200")
      m = m + t:get("mismatch")
      if ex == "" then ex = t:get("example") end
      for _, v in ipairs(t:get("lat")) do all[#all + 1] = v end
   end
   table.sort(all)
   local function pct(p)
      return #all > 0 and all[math.max(1, math.ceil(#all * p / 100))] or 0
   end
   local sum = 0
   for _, v in ipairs(all) do sum = sum + v end
   -- JSON-safe: the example is only for the log.
   ex = ex:gsub("[^%w =:/._-]", "?")
   local e = summary.errors
   io.write(string.format(
      'service-wrk: {"requests": %d, "duration_us": %d, "latency_us": {"p50": %d, "p99": %d, ' ..
      '"mean": %.1f, "max": %d, "timed": %d, "p99_corrected": %d}, "errors": {"connect": %d, ' ..
      '"read": %d, "write": %d, "status": %d, "timeout": %d}, "checked": %d, "non200": %d, ' ..
      '"mismatch": %d, "example": "%s"}\n',
      summary.requests, summary.duration, pct(50), pct(99), #all > 0 and sum / #all or 0,
      #all > 0 and all[#all] or 0, #all, latency:percentile(99),
      e.connect, e.read, e.write, e.status, e.timeout, c, n, m, ex))
end
