-- Appended to a per-scenario preamble that sets wrk.method, wrk.body and wrk.headers, or
-- defines request() and after_response(status, body) itself (bench/capacity.py).
-- Counts every response that is not 200 (wrk itself only counts non-2xx/3xx) and prints the
-- run's figures as one JSON line that bench/load.py parses.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  not_ok = 0
end

function response(status, headers, body)
  if status ~= 200 then
    not_ok = not_ok + 1
  end
  if after_response then
    after_response(status, body)
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("not_ok")
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
      .. '"not_200":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, bad, errors.connect + errors.read + errors.write + errors.timeout))
end
