-- bench/post.lua: wrk script for bench/run.  POSTs a booking_created body
-- whose appointment id is made unique per request (or, in "dup" mode, one
-- of 100 ids over and over, so the bodies repeat exactly).
--
--   wrk ... -s bench/post.lua URL -- BODYFILE IDPREFIX unique|dup
--
-- BODYFILE holds the body with @BENCH_ID@ where the id goes; IDPREFIX
-- carries the run's nonce and the case, so that reruns never collide.  The
-- token comes from the environment (BENCH_TOKEN), not from the URL, so
-- that wrk does not print it.  done() prints one "BENCH key=value" line
-- for bench/run to read.

local threads = {}
local nthreads = 0

function setup(thread)
	nthreads = nthreads + 1
	thread:set("tid", nthreads)
	table.insert(threads, thread)
end

local prefix, suffix, tag, dup
counter = 0 -- global: done() reads it from each thread

function init(args)
	local f = assert(io.open(args[1], "rb"))
	local body = f:read("*a")
	f:close()
	local s, e = body:find("@BENCH_ID@", 1, true)
	assert(s, "no @BENCH_ID@ in " .. args[1])
	prefix = body:sub(1, s - 1)
	suffix = body:sub(e + 1)
	dup = args[3] == "dup"
	tag = args[2]
	math.randomseed(os.time() * 1000 + tid)
	wrk.method = "POST"
	wrk.headers["Content-Type"] = "application/json"
	wrk.headers["X-Webhook-Token"] = assert(os.getenv("BENCH_TOKEN"),
	    "BENCH_TOKEN is not set")
end

function request()
	counter = counter + 1
	local id
	if dup then
		-- The same 100 bodies from every thread.
		local n = counter % 100
		id = string.format("%08x-%s-%d", (n * 2654435761) % 4294967296,
		    tag, n)
	else
		id = string.format("%08x-%s-%d-%d",
		    math.random(0, 2147483647) * 2 + math.random(0, 1), tag,
		    tid, counter)
	end
	return wrk.format(nil, nil, nil, prefix .. id .. suffix)
end

function done(summary, latency, requests)
	local e = summary.errors
	local sent = 0
	for _, t in ipairs(threads) do
		sent = sent + (t:get("counter") or 0)
	end
	io.write(string.format("BENCH requests=%d duration_us=%d " ..
	    "status_errors=%d connect=%d read=%d write=%d timeout=%d " ..
	    "p50_us=%d p99_us=%d sent=%d\n",
	    summary.requests, summary.duration, e.status, e.connect, e.read,
	    e.write, e.timeout, latency:percentile(50),
	    latency:percentile(99), sent))
end
