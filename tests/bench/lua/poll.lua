-- TAXII 1.1 Poll_Request for a random window of exactly BENCH_WINDOW blocks of collection
-- `bench` (gen.py labels block i at T1_BASE + i seconds); the answer must hold them all.
dofile(os.getenv("BENCH_DIR") .. "/lua/common.lua")
local window = tonumber(os.getenv("BENCH_WINDOW") or "100")
local base = os.time({year = 2024, month = 1, day = 1, hour = 0, min = 0, sec = 0, isdst = false})
-- os.time reads local time; the labels are UTC.
base = base + (os.time() - os.time(os.date("!*t")))
local headers = {
  ["Accept"] = "application/xml",
  ["Content-Type"] = "application/xml",
  ["X-TAXII-Content-Type"] = "urn:taxii.mitre.org:message:xml:1.1",
  ["X-TAXII-Accept"] = "urn:taxii.mitre.org:message:xml:1.1",
  ["X-TAXII-Services"] = "urn:taxii.mitre.org:services:1.1",
  ["X-TAXII-Protocol"] = "urn:taxii.mitre.org:protocol:http:1.0",
  ["Authorization"] = bench.auth(),
}
bad = 0

function setup(thread)
  table.insert(bench.threads, thread)
end

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

local function stamp(i)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", base + i)
end

local n = 0

function request()
  n = n + 1
  local s = math.random(0, bench.blocks - window)
  local body = string.format(
    '<taxii_11:Poll_Request xmlns:taxii_11="http://taxii.mitre.org/messages/taxii_xml_binding-1.1" ' ..
    'message_id="%d" collection_name="bench">' ..
    '<taxii_11:Exclusive_Begin_Timestamp>%s</taxii_11:Exclusive_Begin_Timestamp>' ..
    '<taxii_11:Inclusive_End_Timestamp>%s</taxii_11:Inclusive_End_Timestamp>' ..
    '<taxii_11:Poll_Parameters allow_asynch="false"><taxii_11:Response_Type>FULL</taxii_11:Response_Type>' ..
    '</taxii_11:Poll_Parameters></taxii_11:Poll_Request>', n, stamp(s), stamp(s + window))
  return wrk.format("POST", bench.path, headers, body)
end

-- Counting the blocks of every answer would cost the client more than the server spends on
-- it: each thread counts its first 20 answers, and then checks the kind and size of the rest
-- (a Status_Message is small).
local counted = 0

function response(status, headers, body)
  local ok = status == 200 and #body > window * 2000 and body:find("Poll_Response", 1, true) ~= nil
  if ok and counted < 20 then
    counted = counted + 1
    local _, blocks = body:gsub("<taxii_11:Content_Block>", "")
    ok = blocks == window
  end
  if not ok then
    bad = bad + 1
  end
end
