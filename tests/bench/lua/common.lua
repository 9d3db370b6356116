-- Shared by the wrk scripts: settings from the environment (set by tests/bench/run), the
-- object-id formula of gen.py, and one machine-readable result line.
bench = {
  token = os.getenv("BENCH_TOKEN"),
  basic = os.getenv("BENCH_BASIC"),
  objects = tonumber(os.getenv("BENCH_OBJECTS") or "0"),
  blocks = tonumber(os.getenv("BENCH_BLOCKS") or "0"),
  path = os.getenv("BENCH_PATH"),
}

function bench.auth()
  if bench.basic and bench.basic ~= "" then
    return "Basic " .. bench.basic
  end
  return "Bearer " .. bench.token
end

-- gen.py's object_id(k): type by k % 10, a uuid from k (48-bit multiplicative hash, split
-- into two 24-bit halves because LuaJIT's %x takes 32-bit integers).
function bench.object_id(k)
  local t = k % 10
  local kind = t < 6 and "indicator" or (t < 8 and "malware" or "relationship")
  local h = (k * 2654435761) % 281474976710656
  local hi = math.floor(h / 16777216)
  return string.format("%s--%08x-0000-4000-8000-%06x%06x", kind, k, hi, h % 16777216)
end

-- Scripts that check response bodies count failures in a per-thread `bad` and register
-- their threads here.
bench.threads = {}

function done(summary, latency, requests)
  local e = summary.errors
  local bad = 0
  for _, t in ipairs(bench.threads) do
    bad = bad + (t:get("bad") or 0)
  end
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"rps":%.2f,"p50_ms":%.3f,"p99_ms":%.3f,' ..
    '"non2xx":%d,"socket_errors":%d,"bytes":%d}\n',
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status + bad, e.connect + e.read + e.write + e.timeout, summary.bytes))
end
