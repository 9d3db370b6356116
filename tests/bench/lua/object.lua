-- GET …/objects/{id}/ of a random existing object (BENCH_PATH is the objects/ URL).
dofile(os.getenv("BENCH_DIR") .. "/lua/common.lua")
local headers = {
  ["Accept"] = "application/taxii+json;version=2.1",
  ["Authorization"] = bench.auth(),
}

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

function request()
  local k = math.random(0, bench.objects - 1)
  return wrk.format("GET", bench.path .. bench.object_id(k) .. "/", headers)
end
