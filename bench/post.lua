-- wrk script for the bench (scripts/bench/): POSTs analytics events as JSON.
--
--   wrk ... -s bench/post.lua http://127.0.0.1:PORT/evbus -- MODE TAG [N] [SIZE] [KIND]
--
--   MODE  single   one event object per request
--         batch    a JSON array of N events per request
--   TAG   prefix of every event_id (run id + scenario + phase): each
--         event_id is TAG-t<thread>-<counter>, unique across all the wrk
--         runs of one bench run, so messages can be matched and
--         deduplicated in Kafka.
--   N     events per request in batch mode (default 100)
--   SIZE  bytes per event object (default 300; >= 200 for click, >= 260
--         for purchase: smaller sizes give larger events)
--   KIND  click     (default) a click event padded in props.pad
--         mix       the same, every 10th one of event_type "purchase",
--                   the others "impression" (the overload part)
--         purchase  a "purchase" event, event_version 1, valid against
--                   conf-examples/schemas/purchase/1.json (user_id,
--                   order_id ^ord_[A-Za-z0-9]{6,32}$, amount > 0,
--                   currency ^[A-Z]{3}$, coupon null, 1+ items of
--                   {sku, quantity 1..9, price}), padded through the skus
--                   (at most 64 bytes each, so more items when SIZE grows)
--         gzip      the batches in BENCH_FILES_DIR/<i>.json.gz (i = 1 ..
--                   BENCH_FILES_N), in turn, with Content-Encoding: gzip
--         plain     the same batches uncompressed (<i>.json)
--                   (written by scripts/bench/gzip.sh; their events carry
--                   no event_id, the module generates one)
--
-- With BENCH_DELAY_MS set in the environment, each connection waits that
-- many milliseconds before each of its requests (wrk's delay()): a steady
-- low rate of about connections x 1000 / BENCH_DELAY_MS requests/s (the
-- fleet part).  Unset, wrk sends the next request as soon as the answer
-- is in (delay() is not even defined: it would add a timer per request).
--
-- done() prints one machine-readable line that scripts/bench/lib.sh parses:
--   BENCHRESULT key=value ...
-- with wrk's own summary (requests, duration, latency percentiles, socket
-- errors) and this script's counters summed over threads: requests sent,
-- responses seen, 2xx / other statuses, events accepted / rejected (from
-- the module's {"accepted":N,"rejected":M,...} answer; for a 2xx without
-- such a body, e.g. "return 202", every event of the request counts as
-- accepted).

local threads = {}

local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if delay_ms then
    function delay()
        return delay_ms
    end
end
local next_tid = 0

function setup(thread)
    thread:set("tid", next_tid)
    next_tid = next_tid + 1
    table.insert(threads, thread)
end

-- per-thread state (each wrk thread has its own Lua state)
local mode, tag, per_req, size, kind
local counter = 0
local pool, pool_len
local headers = { ["Content-Type"] = "application/json" }
local files

sent, responses, ok, non2xx, accepted, rejected = 0, 0, 0, 0, 0, 0
first_bad = ""

function init(args)
    mode = args[1] or "single"
    tag = args[2] or "bench"
    per_req = tonumber(args[3] or "100")
    size = tonumber(args[4] or "300")
    kind = args[5] or "click"
    if kind == "gzip" or kind == "plain" then
        local dir = os.getenv("BENCH_FILES_DIR")
        local n = tonumber(os.getenv("BENCH_FILES_N") or "0")
        files = {}
        for i = 1, n do
            local name = dir .. "/" .. i .. (kind == "gzip" and ".json.gz"
                                                          or ".json")
            local f = assert(io.open(name, "rb"))
            files[i] = f:read("*a")
            f:close()
        end
        if #files == 0 then
            error("post.lua: no files in BENCH_FILES_DIR")
        end
        if kind == "gzip" then
            headers["Content-Encoding"] = "gzip"
        end
    elseif kind ~= "click" and kind ~= "purchase" and kind ~= "mix" then
        error("post.lua: unknown kind " .. kind)
    end
    if mode == "single" then
        per_req = 1
    elseif mode ~= "batch" then
        error("post.lua: unknown mode " .. mode)
    end
    tag = tag .. "-t" .. tid .. "-"

    -- pseudo-random alphanumeric padding: compresses like text, not like
    -- a run of one byte (the module's producer uses lz4)
    math.randomseed(12345 + tid)
    local chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    local t = {}
    for i = 1, 8192 do
        local k = math.random(1, #chars)
        t[i] = chars:sub(k, k)
    end
    pool = table.concat(t)
    pool_len = #pool
end

-- alphanumerics from the pool, n of them, at a position derived from seed
local function alnum(n, seed)
    local off = (seed * 131) % (pool_len - n - 1) + 1
    return pool:sub(off, off + n - 1)
end

local item_overhead = #'{"sku":"","quantity":1,"price":10.00}'

local function purchase(id)
    local head = '{"event_type":"purchase","event_id":"' .. id
        .. '","event_version":1,"user_id":"user-'
        .. string.format("%05d", counter % 100000)
        .. '","order_id":"ord_' .. alnum(10, counter + 7)
        .. '","amount":' .. (100 + counter % 900) .. '.'
        .. string.format("%02d", counter % 100)
        .. ',"currency":"EUR","coupon":null,"items":['
    local tail = ']}'
    -- k items (k - 1 commas) whose skus share the rest, 1..64 bytes each
    local rest = size - #head - #tail
    local k = math.max(1, math.ceil((rest + 1) / (item_overhead + 64 + 1)))
    local skus = rest - k * item_overhead - (k - 1)
    local items = {}
    for i = 1, k do
        local n = math.floor(skus / (k - i + 1))
        if n < 1 then n = 1 end
        if n > 64 then n = 64 end
        skus = skus - n
        items[i] = '{"sku":"' .. alnum(n, counter * 7 + i) .. '","quantity":'
            .. (1 + (counter + i) % 9) .. ',"price":'
            .. (10 + (counter + i) % 90) .. '.'
            .. string.format("%02d", (counter * i) % 100) .. '}'
    end
    return head .. table.concat(items, ",") .. tail
end

local function event()
    counter = counter + 1
    local id = tag .. counter
    if kind == "purchase" then
        return purchase(id)
    end
    local etype = "click"
    if kind == "mix" then
        etype = (counter % 10 == 0) and "purchase" or "impression"
    end
    local head = '{"event_type":"' .. etype .. '","event_id":"' .. id
        .. '","user_id":"user-' .. string.format("%05d", counter % 100000)
        .. '","page":"/products/' .. string.format("%03d", counter % 1000)
        .. '","referrer":"https://shop.example.com/","props":{"pad":"'
    local tail = '"}}'
    local pad = size - #head - #tail
    if pad < 0 then pad = 0 end
    local off = (counter * 131) % (pool_len - pad - 1) + 1
    return head .. pool:sub(off, off + pad - 1) .. tail
end

function request()
    sent = sent + 1
    local body
    if files then
        counter = counter + 1
        body = files[counter % #files + 1]
    elseif mode == "single" then
        body = event()
    else
        local ev = {}
        for i = 1, per_req do
            ev[i] = event()
        end
        body = "[" .. table.concat(ev, ",") .. "]"
    end
    return wrk.format("POST", nil, headers, body)
end

function response(status, hdrs, body)
    responses = responses + 1
    if status >= 200 and status < 300 then
        ok = ok + 1
        local a = body and body:match('"accepted":(%d+)')
        if a then
            accepted = accepted + tonumber(a)
            local r = body:match('"rejected":(%d+)')
            if r then rejected = rejected + tonumber(r) end
        else
            accepted = accepted + per_req
        end
    else
        non2xx = non2xx + 1
        if first_bad == "" then
            first_bad = status .. " " .. string.sub(body or "", 1, 200)
        end
    end
end

function done(summary, latency, requests)
    local s = { sent = 0, responses = 0, ok = 0, non2xx = 0,
                accepted = 0, rejected = 0 }
    local bad = ""
    for _, t in ipairs(threads) do
        for k in pairs(s) do
            s[k] = s[k] + (t:get(k) or 0)
        end
        local fb = t:get("first_bad")
        if bad == "" and fb and fb ~= "" then bad = fb end
    end
    local e = summary.errors
    io.write(string.format(
        "BENCHRESULT requests=%d duration_us=%d bytes=%d"
        .. " p50_us=%d p90_us=%d p99_us=%d max_us=%d"
        .. " sent=%d responses=%d ok=%d non2xx=%d accepted=%d rejected=%d"
        .. " err_connect=%d err_read=%d err_write=%d err_status=%d"
        .. " err_timeout=%d\n",
        summary.requests, summary.duration, summary.bytes,
        latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency.max,
        s.sent, s.responses, s.ok, s.non2xx, s.accepted, s.rejected,
        e.connect, e.read, e.write, e.status, e.timeout))
    if bad ~= "" then
        io.write("BENCHFIRSTBAD " .. bad:gsub("\n", " ") .. "\n")
    end
end
