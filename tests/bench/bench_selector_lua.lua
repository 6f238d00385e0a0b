-- Issue 12: the Lua Selector's cost with 100 active sockets while 10,000
-- idle ones are registered, against none idle (as bench_selector.c and
-- bench_selector_python.py; see there).  Target: wait <= 1.2x.
--   lua5.4 bench_selector_lua.lua [--quick] [--runs N] [--rows-only]
local netsocket = require "netsocket"

local opts = {}
for i, a in ipairs(arg) do opts[a] = arg[i + 1] or true end
local QUICK = opts["--quick"] ~= nil
local RUNS = tonumber(opts["--runs"]) or (QUICK and 1 or 5)
local IDLE, ACTIVE, CYCLES, TIMEOUT_US = QUICK and 1000 or 10000, 100, QUICK and 20 or 200, 60000000
local here = arg[0]:match("^(.*)/[^/]*$") or "."

-- Lua cannot raise RLIMIT_NOFILE itself: run again under `ulimit -n`.
if not os.getenv("NS_BENCH_NOFILE_RAISED") then
  local need = IDLE + 2 * ACTIVE + 64
  local p = io.popen("ulimit -n")
  local limit = tonumber(p:read("a"):match("%d+") or "0")
  p:close()
  if limit < need then
    local args = {}
    for _, a in ipairs(arg) do args[#args + 1] = ("'%s'"):format(a) end
    local ok, _, code = os.execute(("ulimit -n %d && NS_BENCH_NOFILE_RAISED=1 exec '%s' '%s' %s")
                                   :format(need, arg[-1], arg[0], table.concat(args, " ")))
    os.exit(ok and 0 or code)
  end
end

local clock = os.clock -- fallback only
local ok_luv, uv = pcall(require, "luv")
local now = ok_luv and function() return uv.hrtime() / 1e9 end or clock

local function cycle_times(sel, active, peers)
  local add, wait = 0, 0
  for _ = 1, CYCLES do
    for _, p in ipairs(peers) do p:send("x") end
    local t0 = now()
    for _, s in ipairs(active) do sel:add(s, TIMEOUT_US) end
    local t1 = now()
    local got = 0
    for _ = 1, 1000 do
      got = got + #sel:wait(5000000)
      if got >= ACTIVE then break end
    end
    local t2 = now()
    assert(got == ACTIVE, "got " .. got)
    for _, s in ipairs(active) do s:recv(1) end
    add, wait = add + (t1 - t0), wait + (t2 - t1)
  end
  return add / CYCLES * 1e6, wait / CYCLES * 1e6
end

local function median(t)
  table.sort(t)
  return t[#t // 2 + 1]
end

local server = netsocket.make_server_socket("127.0.0.1", "0",
                                            netsocket.socket_options { non_blocking = false, read_timeout = 5000000 })
local port = select(2, server:info())
local holder = io.popen(("/usr/bin/python3 '%s/hold_peers.py' %d %d > /dev/null"):format(here, port, IDLE), "w")
local idle = {}
for i = 1, IDLE do idle[i] = server:accept() end
local peers, active = {}, {}
for i = 1, ACTIVE do
  peers[i] = netsocket.make_client_socket("127.0.0.1", port, netsocket.socket_options { non_blocking = false })
  active[i] = server:accept()
end
local crowded, empty = netsocket.Selector(), netsocket.Selector()
for _, s in ipairs(idle) do crowded:add(s, TIMEOUT_US) end
cycle_times(crowded, active, peers) -- warm-up
cycle_times(empty, active, peers)
local rows = { wait = { a = {}, b = {}, r = {} }, add = { a = {}, b = {}, r = {} } }
for run = 1, RUNS do
  local t = {}
  for _, sel in ipairs(run % 2 == 1 and { crowded, empty } or { empty, crowded }) do
    t[sel] = { cycle_times(sel, active, peers) }
  end
  for i, what in ipairs { "add", "wait" } do
    local r = rows[what]
    r.a[#r.a + 1], r.b[#r.b + 1] = t[crowded][i], t[empty][i]
    r.r[#r.r + 1] = t[crowded][i] / t[empty][i]
  end
end
assert(crowded:count() == IDLE, "idle sockets left the selector")
if not opts["--rows-only"] then
  print("| item | figure | netsocket | baseline | ratio | target |")
  print("|---|---|---:|---:|---:|---|")
end
for _, what in ipairs { "wait", "add" } do
  local r = rows[what]
  local ratio = median(r.r)
  local target = what == "wait" and ("<= 1.20 " .. (ratio <= 1.2 and "met" or "**missed**")) or "(info)"
  print(("| 12 selector (Lua) | %s %d active, %d idle vs 0 idle (us/cycle) | %.1f us | %.1f us | %.3f | %s |")
        :format(what, ACTIVE, IDLE, median(r.a), median(r.b), ratio, target))
end
holder:close()
for _, s in ipairs(idle) do s:close() end
