-- wrk script for POST /v1/probe on mdevmig-collector (used by
-- tests/bench/bench-collector; a benchmark, not a test).
--
--   PROBE_TOKEN=... PROBE_BODY='{"type":"...","version":"..."}' \
--       wrk -t2 -c16 -d10s -s tests/bench/probe.lua http://127.0.0.1:PORT/v1/probe
--
-- The body and the bearer token come from the environment, so neither is
-- written into this file or shown in the process list.

local body = os.getenv("PROBE_BODY")
local token = os.getenv("PROBE_TOKEN")
if body == nil or body == "" or token == nil or token == "" then
    io.stderr:write("probe.lua: set PROBE_BODY (the JSON body) and PROBE_TOKEN (the bearer token)\n")
    os.exit(2)
end

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
