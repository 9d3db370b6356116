-- A fixed GET (BENCH_PATH) with TAXII 2.1 Accept and the configured credentials:
-- pages, deep pages, manifests, discovery.
dofile(os.getenv("BENCH_DIR") .. "/lua/common.lua")
wrk.method = "GET"
wrk.path = bench.path
wrk.headers["Accept"] = "application/taxii+json;version=2.1"
wrk.headers["Authorization"] = bench.auth()
