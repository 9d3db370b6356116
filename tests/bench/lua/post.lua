-- POST envelopes of BENCH_PER new indicators (~1 KB each, random ids) to BENCH_PATH; a
-- response that is not a complete status with every object a success counts as an error.
-- The object text minus id, type and spec_version is BENCH_TEMPLATE, which the ingest ceiling
-- inserts too.
dofile(os.getenv("BENCH_DIR") .. "/lua/common.lua")
local per = tonumber(os.getenv("BENCH_PER") or "100")
local headers = {
  ["Accept"] = "application/taxii+json;version=2.1",
  ["Content-Type"] = "application/taxii+json;version=2.1",
  ["Authorization"] = bench.auth(),
}
bad = 0

function setup(thread)
  table.insert(bench.threads, thread)
end

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

local template = os.getenv("BENCH_TEMPLATE")
local head = '{"type":"indicator","spec_version":"2.1","id":"indicator--'

local function r16()
  return math.random(0, 65535)
end

local counter = 0

function request()
  local objs = {}
  for i = 1, per do
    counter = counter + 1
    local uuid = string.format("%04x%04x-%04x-4%03x-%04x-%04x%04x%04x", r16(), r16(), r16(), r16() % 4096,
      32768 + r16() % 16384, r16(), r16(), r16())
    objs[i] = head .. uuid .. '",' .. template:sub(2):gsub("NNN", tostring(counter))
  end
  local body = '{"objects":[' .. table.concat(objs, ",") .. ']}'
  return wrk.format("POST", bench.path, headers, body)
end

local expect = string.format('"success_count":%d', per)

function response(status, headers, body)
  if status ~= 202 or not body:find('"status":"complete"', 1, true) or not body:find(expect, 1, true) then
    bad = bad + 1
  end
end
