-- wrk script for tests/contract/test_load.py: concurrent writers and readers.
--   wrk -s load.lua URL -- ITEMS_PATH HEALTH_PATH SEED_ID
-- Each wrk thread cycles through: POST ITEMS_PATH (a writer), GET ITEMS_PATH/<id> (a reader of
-- the newest item this thread got a 201 for — read-after-acknowledged-write, whichever worker
-- answers), POST again, GET HEALTH_PATH: half writes, half reads. GET ITEMS_PATH (the whole
-- collection) is left out: it grows with every run and would measure the list, not the store.
-- done() prints one machine-readable line: "KIT_LOAD {json}" (latencies in microseconds).

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  items, health, last_id = args[1], args[2], args[3]
  n, writes, reads, non2xx, first_bad = 0, 0, 0, 0, ""
  post = wrk.format("POST", items, { ["Content-Type"] = "application/json" },
    string.format('{"name": "load-%d"}', tid))
  probe = wrk.format("GET", health)
end

function request()
  n = n + 1
  local k = n % 4
  if k == 1 or k == 3 then
    return post
  elseif k == 2 then
    return wrk.format("GET", items .. "/" .. last_id)
  end
  return probe
end

function response(status, headers, body)
  if status == 201 then
    writes = writes + 1
    last_id = string.match(body, '"id":%s*(%d+)') or last_id
  elseif status >= 200 and status < 300 then
    reads = reads + 1
  else
    non2xx = non2xx + 1
    if first_bad == "" then
      first_bad = status .. " " .. string.sub(string.gsub(body or "", '[%c"\\]', " "), 1, 200)
    end
  end
end

function done(summary, latency, requests)
  local w, r, bad, first = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    w = w + t:get("writes")
    r = r + t:get("reads")
    bad = bad + t:get("non2xx")
    if first == "" then first = t:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    'KIT_LOAD {"requests": %d, "duration_us": %d, "writes": %d, "reads": %d, ' ..
    '"non2xx": %d, "first_non2xx": "%s", "connect": %d, "read": %d, "write": %d, ' ..
    '"timeout": %d, "status": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, w, r, bad, first, e.connect, e.read, e.write,
    e.timeout, e.status, latency:percentile(50), latency:percentile(99), latency.max))
end
