-- netsocket.async: a server and 1,000 concurrent TLS clients as coroutines
-- of one Lua thread, driven by lua-cqueues and by lua-luv (libuv); every
-- byte checked; timeouts, a peer that vanishes, a wait that is abandoned.
-- Loopback only; every loop is bounded.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path

-- Thousands of sockets: raise RLIMIT_NOFILE (as tests/c/load_selector_echo.c)
-- by running again under `ulimit -n` when the limit is lower.
local NEED_FILES = 4500
if not os.getenv("NS_TEST_NOFILE_RAISED") then
  local p = io.popen("ulimit -n")
  local limit = p:read("a"):match("%d+")
  p:close()
  if limit and tonumber(limit) < NEED_FILES then
    local ok, _, code = os.execute(("ulimit -n %d 2>/dev/null && NS_TEST_NOFILE_RAISED=1 exec '%s' '%s'")
                                   :format(NEED_FILES, arg[-1], arg[0]))
    if ok or code ~= 1 then os.exit(ok and 0 or code) end
    print(("SKIP: RLIMIT_NOFILE below %d and it cannot be raised"):format(NEED_FILES))
    os.exit(0)
  end
end

local T = require "testlib"
local netsocket = require "netsocket"
local async = require "netsocket.async"
local test, eq, check = T.test, T.eq, T.check

local have_cqueues, cqueues = pcall(require, "cqueues")
local have_luv, uv = pcall(require, "luv")
if not have_cqueues or not have_luv then
  print("SKIP: lua-cqueues and lua-luv are needed (.ci/install-deps installs them)")
  os.exit(0)
end

local function server_options(fields)
  fields = fields or {}
  fields.certificates, fields.private_key = { T.read("server.pem") }, T.read("server.key")
  fields.read_timeout = fields.read_timeout or 10000000
  return netsocket.server_tls_socket_options(fields)
end

local function client_options(fields)
  fields = fields or {}
  fields.trusted_certificates = { T.read("ca.pem") }
  fields.read_timeout = fields.read_timeout or 10000000
  return netsocket.tls_socket_options(fields)
end

-- Bytes distinct per connection.
local function pattern(seed, size)
  return (string.pack(">I4", seed):rep(size // 4 + 1)):sub(1, size)
end

local function echo(conn)
  while true do
    local data = conn:recv(65536)
    if data == "" then break end
    conn:send_all(data)
  end
  conn:close()
end

local function client(loop, port, i, size, results)
  local c = async.connect(loop, client_options(), "127.0.0.1", port)
  local data = pattern(i, size + i)
  c:send_all(data)
  c:shutdown(netsocket.SHUT_WR)
  local got = {}
  for _ = 1, 100000 do
    local chunk = c:recv(65536)
    if chunk == "" then break end
    got[#got + 1] = chunk
  end
  c:close()
  results[i] = table.concat(got) == data and #data or "mismatch"
end

local CLIENTS, SIZE = 1000, 16 * 1024

local function expect_all(results)
  for i = 1, CLIENTS do eq(results[i], SIZE + i, "client " .. i) end
end

test("cqueues: a server and 1,000 TLS clients in one thread, every byte checked", function()
  local loop, cq = async.cqueues(), cqueues.new()
  local server = async.listen(loop, server_options(), "127.0.0.1", 0)
  local port = select(2, server.socket:info())
  local results = {}
  cq:wrap(function()
    for _ = 1, CLIENTS do
      local conn = server:accept()
      cq:wrap(echo, conn)
    end
    server:close()
  end)
  for i = 1, CLIENTS do cq:wrap(client, loop, port, i, SIZE, results) end
  local deadline = cqueues.monotime() + 120
  while not cq:empty() and cqueues.monotime() < deadline do
    local ok, err = cq:step(1)
    if not ok then error(err, 0) end
  end
  check(cq:empty(), "cqueues: the loop did not finish in time")
  expect_all(results)
end)

test("luv: a server and 1,000 TLS clients in one thread, every byte checked", function()
  local loop = async.luv(uv)
  local server = async.listen(loop, server_options(), "127.0.0.1", 0)
  local port = select(2, server.socket:info())
  local results = {}
  loop.spawn(function()
    for _ = 1, CLIENTS do loop.spawn(echo, server:accept()) end
    server:close()
  end)
  for i = 1, CLIENTS do loop.spawn(client, loop, port, i, SIZE, results) end
  local guard = uv.new_timer()
  guard:start(120000, 0, function() uv.stop() end)
  guard:unref() -- bounds the run without keeping the loop alive
  uv.run()
  guard:close()
  expect_all(results)
end)

test("cqueues: recv honours the read timeout while other coroutines run", function()
  local loop, cq = async.cqueues(), cqueues.new()
  local server = async.listen(loop, nil, "127.0.0.1", 0)
  local port = select(2, server.socket:info())
  local ticks, outcome = 0, {}
  cq:wrap(function()
    local conn = server:accept()
    cqueues.sleep(0.5)
    conn:close()
    server:close()
  end)
  cq:wrap(function()
    local c = async.connect(loop, netsocket.socket_options { read_timeout = 200000 }, "127.0.0.1", port)
    local started = cqueues.monotime()
    local ok, err = pcall(c.recv, c, 10)
    outcome.ok, outcome.err, outcome.waited = ok, err, cqueues.monotime() - started
    c:close()
  end)
  cq:wrap(function()
    for _ = 1, 10 do ticks = ticks + 1; cqueues.sleep(0.01) end
  end)
  for _ = 1, 1000 do
    if cq:empty() then break end
    assert(cq:step(1))
  end
  eq(outcome.ok, false)
  eq(outcome.err.status, "NS_ERR_READ_TIMEOUT")
  eq(outcome.err.message, "recv timed out after 200000 us")
  eq(tostring(outcome.err), "recv timed out after 200000 us")
  check(outcome.waited >= 0.18 and outcome.waited < 2, "waited " .. outcome.waited)
  eq(ticks, 10)
end)

test("cqueues: a TLS peer that vanishes without close_notify fails the reader", function()
  local loop, cq = async.cqueues(), cqueues.new()
  local server = async.listen(loop, server_options(), "127.0.0.1", 0)
  local port = select(2, server.socket:info())
  local outcome = {}
  cq:wrap(function()
    local conn = server:accept()
    outcome.first = conn:recv(10)
    outcome.ok, outcome.err = pcall(conn.recv, conn, 10)
    conn:close()
    server:close()
  end)
  -- The peer: another process that sends "hello" and exits without
  -- closing (os.exit(0, false) runs no finalizer: no close_notify).
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(([[
    local netsocket = require "netsocket"
    local c = netsocket.make_client_tls_socket("127.0.0.1", "%d", netsocket.tls_socket_options {
      trusted_certificates = { %q }, non_blocking = false, read_timeout = 5000000 })
    c:send_all("hello")
    os.execute("sleep 0.05")
    os.exit(0, false)
  ]]):format(port, T.read("ca.pem")))
  f:close()
  assert(os.execute(("'%s' '%s' &"):format(T.lua, script)))
  for _ = 1, 1000 do
    if cq:empty() then break end
    assert(cq:step(1))
  end
  eq(outcome.first, "hello")
  eq(outcome.ok, false)
  os.remove(script)
  eq(outcome.err.status, "NS_ERR_CLOSED")
  eq(outcome.err.message:gsub(":%d+:", ":PORT:"), "TLS recv from 127.0.0.1:PORT: the peer closed the connection "
     .. "without close_notify (what was received may be truncated; the option ignore-unexpected-eof? accepts "
     .. "this as the end of the stream)")
end)

test("luv: a pending wait abandoned by closing its socket leaves the loop clean", function()
  local loop = async.luv(uv)
  local server = async.listen(loop, nil, "127.0.0.1", 0)
  local port = select(2, server.socket:info())
  local c = async.connect(loop, nil, "127.0.0.1", port)
  local finished = false
  loop.spawn(function()
    local conn = server:accept()
    local t = uv.new_timer()
    t:start(50, 0, function()
      t:close()
      conn:send_all("late")
      conn:close()
      server:close()
    end)
  end)
  loop.spawn(function()
    eq(c:recv(10), "late")
    eq(c:recv(10), "")
    c:close()
    finished = true
  end)
  local guard = uv.new_timer()
  guard:start(10000, 0, function() uv.stop() end)
  guard:unref()
  uv.run()
  guard:close()
  uv.run("nowait") -- runs the close callbacks
  check(finished, "the reader did not finish")
  eq(uv.loop_alive(), false) -- no poll handle or timer left behind
end)

test("the plain answer for a host loop: which fd, which direction", function()
  local srv = netsocket.make_server_socket("127.0.0.1", "0", netsocket.socket_options())
  local c = netsocket.make_client_socket("127.0.0.1", select(2, srv:info()), netsocket.socket_options())
  local data, err = c:recv(10)
  eq(data, nil)
  local fd, direction = async.want(c, err)
  eq(fd, c:fileno())
  eq(direction, "r")
  eq(select(2, async.want(c, "wantwrite")), "w")
  c:close()
  srv:close()
end)

T.run()
