-- wrk script for the single-request measurements of bench/run.sh: a JSON POST when
-- BENCH_POST_JSON holds a body, and a summary line ("WRK {json}") for bench/throughput.py to read.
local body = os.getenv("BENCH_POST_JSON")
if body and body ~= "" then
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests":%d,"duration_us":%d,"bad_status":%d,"socket_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write, e.timeout))
end
