-- Prints wrk's result as one JSON line: requests, duration, latency percentiles, errors.
-- Paths given after `--` are requested in turn (each thread from its own place in the list),
-- so that a load of first views asks for many different pages; without them, the URL's own.
local threads = 0
local paths, turn = {}, 0

setup = function(thread)
  thread:set("thread_number", threads)
  threads = threads + 1
end

init = function(args)
  for i, path in ipairs(args) do
    paths[i] = path
  end
  if #paths > 0 then
    turn = ((thread_number or 0) * math.floor(#paths / 2)) % #paths
  end
end

request = function()
  if #paths == 0 then
    return wrk.format()
  end
  turn = turn % #paths + 1
  return wrk.format(nil, paths[turn])
end

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"errors_status": %d, "errors_socket": %d}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
