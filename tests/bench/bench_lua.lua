-- Item 4 (Lua): the Lua binding against LuaSec (`ssl`, OpenSSL 3) over
-- LuaSocket.
--
-- TLS 1.3 over loopback: bulk throughput (64 KiB writes), 64-byte round trips
-- and full handshakes per second (ECDSA P-256 certificate verified against a
-- CA with a host-name check, SNI "localhost"), reconnects (connect, one
-- 64-byte round trip, close: netsocket's options object resumes by itself;
-- LuaSec 1.2 has no API to get or offer a session, so each of its reconnects
-- is a full handshake, which is what its users get), and (beside item 5) resident
-- bytes per idle established TLS connection on the server side.  For each
-- figure both variants run alternately; Lua has no threads and LuaSocket no
-- fork, so the server of each run is a second lua5.4 process running this
-- script with --serve (started with io.popen, it prints its port once it
-- listens; the client starts timing after that), for both variants alike.
-- Prints rows of run.sh's table: medians, and the median of the per-pair
-- ratios.  Wall time comes from LuaSocket's socket.gettime() for both.
--
-- LuaSec checks the chain (verify = "peer") but not the host name: its side
-- checks the certificate's subjectAltName dNSName entries after the
-- handshake, as a LuaSec user has to.
--
-- Usage (run.sh sets LUA_CPATH/LUA_PATH to the built module):
--     lua5.4 bench_lua.lua [--quick] [--runs N] [--rows-only]
--
-- Written against the Bindings section of docs/reference.md and bench_python.py.
local socket = require "socket"

local function has(flag)
  for _, a in ipairs(arg) do if a == flag then return true end end
  return false
end

local QUICK = has("--quick")
local ROWS_ONLY = has("--rows-only")
local RUNS = QUICK and 1 or 7
for i, a in ipairs(arg) do
  if a == "--runs" then RUNS = math.max(1, math.tointeger(tonumber(arg[i + 1])) or 1) end
end

local CHUNK = 64 * 1024
local BULK_BYTES = QUICK and (4 << 20) or (128 << 20)
local TRIPS = QUICK and 200 or 5000
local HANDSHAKES = QUICK and 10 or 200
local IDLE_CONNECTIONS = QUICK and 50 or 5000
local READ_TIMEOUT = 10 -- seconds: no single wait may take longer
local SERVER_LIMIT = QUICK and 20 or 60 -- seconds: a server process is killed after this

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function readfile(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("a")
  f:close()
  return data
end

-- A CA and a leaf for localhost / 127.0.0.1, ECDSA P-256, with openssl(1).
local function make_certs(dir)
  local function run(...)
    local cmd = { "cd", shell_quote(dir), "&&", "openssl" }
    for _, a in ipairs({ ... }) do cmd[#cmd + 1] = shell_quote(a) end
    cmd[#cmd + 1] = ">/dev/null 2>&1"
    if not os.execute(table.concat(cmd, " ")) then error("openssl " .. (...) .. " failed") end
  end
  run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=bench CA")
  run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost")
  local f = assert(io.open(dir .. "/ext.cnf", "w"))
  f:write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
  f:close()
  run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
    "-CAcreateserial", "-out", "leaf.pem", "-days", "30", "-extfile", "ext.cnf")
end

-- Variants: listen() in the server process, connect() in the client, and
-- the same send_all / recv (up to n bytes, "" at end of stream) / close.
local variants = {}

variants.netsocket = function(dir)
  local netsocket = require "netsocket"
  local v = { name = "netsocket" }
  function v.listen()
    local so = netsocket.server_tls_socket_options {
      certificates = { readfile(dir .. "/leaf.pem") }, private_key = readfile(dir .. "/leaf.key"),
      non_blocking = false, read_timeout = READ_TIMEOUT * 1000000 }
    v.server = netsocket.make_server_tls_socket("127.0.0.1", "0", so)
    local _, port = v.server:info()
    return port
  end
  function v.accept()
    local c = v.server:accept()
    c:setsockopt(netsocket.IPPROTO_TCP, netsocket.TCP_NODELAY, 1)
    return c
  end
  local client_opts
  function v.connect(port)
    client_opts = client_opts or netsocket.tls_socket_options {
      trusted_certificates = { readfile(dir .. "/ca.pem") }, sni = { "localhost" },
      non_blocking = false, read_timeout = READ_TIMEOUT * 1000000 }
    local c = netsocket.make_client_tls_socket("127.0.0.1", tostring(port), client_opts)
    c:setsockopt(netsocket.IPPROTO_TCP, netsocket.TCP_NODELAY, 1)
    return c
  end
  function v.version(c) return c:tls_version() end
  function v.reused(c) return c:session_reused() end
  function v.send_all(c, data) c:send_all(data) end
  function v.recv(c, n) return c:recv(n) end
  function v.close(c) c:close() end
  return v
end

variants.luasec = function(dir)
  local ssl = require "ssl"
  local v = { name = "LuaSec" }
  local server_ctx, client_ctx
  function v.listen()
    server_ctx = assert(ssl.newcontext {
      mode = "server", protocol = "tlsv1_3",
      certificate = dir .. "/leaf.pem", key = dir .. "/leaf.key" })
    v.server = assert(socket.bind("127.0.0.1", 0, 1024))
    v.server:settimeout(READ_TIMEOUT)
    local _, port = v.server:getsockname()
    return port
  end
  function v.accept()
    local tcp = assert(v.server:accept())
    assert(tcp:setoption("tcp-nodelay", true))
    local c = assert(ssl.wrap(tcp, server_ctx))
    c:settimeout(READ_TIMEOUT)
    assert(c:dohandshake())
    return c
  end
  local function host_ok(c, name)
    local cert = c:getpeercertificate()
    local san = cert and cert:extensions()["2.5.29.17"]
    for _, dns in ipairs(san and san.dNSName or {}) do
      if dns == name then return true end
    end
    return false
  end
  function v.connect(port)
    client_ctx = client_ctx or assert(ssl.newcontext {
      mode = "client", protocol = "tlsv1_3", cafile = dir .. "/ca.pem", verify = "peer" })
    local tcp = socket.tcp()
    tcp:settimeout(READ_TIMEOUT)
    assert(tcp:connect("127.0.0.1", port))
    assert(tcp:setoption("tcp-nodelay", true))
    local c = assert(ssl.wrap(tcp, client_ctx))
    c:settimeout(READ_TIMEOUT)
    c:sni("localhost")
    assert(c:dohandshake())
    if not host_ok(c, "localhost") then error("LuaSec: host name mismatch") end
    return c
  end
  function v.version(c) return c:info("protocol") end
  function v.reused() return false end -- no session API in LuaSec 1.2
  function v.send_all(c, data) assert(c:send(data)) end
  function v.recv(c, n)
    -- LuaSocket's receive(n) reads exactly n bytes (what every caller here wants)
    local data, err, partial = c:receive(n)
    if data then return data end
    if err == "closed" then return partial or "" end
    error("LuaSec receive: " .. tostring(err))
  end
  function v.close(c) c:close() end
  return v
end

local function recv_exact(v, c, n)
  local got = 0
  while got < n do
    local data = v.recv(c, n - got)
    if data == "" then error("connection closed early") end
    got = got + #data
  end
end

local page_size
local function rss()
  if not page_size then
    local p = assert(io.popen("getconf PAGESIZE"))
    page_size = tonumber(p:read("l"))
    p:close()
  end
  local f = assert(io.open("/proc/self/statm"))
  local pages = f:read("a"):match("^%d+%s+(%d+)")
  f:close()
  return tonumber(pages) * page_size
end

-- The server process: lua5.4 bench_lua.lua --serve VARIANT MODE CERTDIR [flags]
local function serve(name, mode, dir)
  local v = variants[name](dir)
  io.stdout:write(v.listen(), "\n")
  io.stdout:flush()
  if mode == "handshakes" then
    for _ = 1, HANDSHAKES do v.close(v.accept()) end
  elseif mode == "reconnects" then
    for _ = 1, HANDSHAKES do
      local c = v.accept()
      recv_exact(v, c, 64)
      v.send_all(c, string.rep("\0", 64))
      v.close(c)
    end
  elseif mode == "check" then
    local c = v.accept()
    io.stdout:write(tostring(v.version(c)), "\n")
    io.stdout:flush()
    recv_exact(v, c, 1)
    v.close(c)
  elseif mode == "memory" then
    local conns = { v.accept() }
    rss() -- reads the page size before measuring
    collectgarbage()
    local before = rss()
    for i = 2, IDLE_CONNECTIONS + 1 do conns[i] = v.accept() end
    collectgarbage()
    io.stdout:write(string.format("%f\n", (rss() - before) / IDLE_CONNECTIONS))
    io.stdout:flush()
    recv_exact(v, conns[1], 1) -- held until the client says so
    for _, c in ipairs(conns) do v.close(c) end
  else
    local c = v.accept()
    if mode == "bulk" then
      local got = 0
      while got < BULK_BYTES do
        local data = v.recv(c, CHUNK)
        if data == "" then error("connection closed early") end
        got = got + #data
      end
      v.send_all(c, "k")
    else
      for _ = 1, TRIPS do
        local msg = v.recv(c, 64)
        while #msg < 64 do
          local more = v.recv(c, 64 - #msg)
          if more == "" then error("connection closed early") end
          msg = msg .. more
        end
        v.send_all(c, msg)
      end
    end
    v.close(c)
  end
end

local function start_server(name, mode, dir)
  local cmd = { "exec timeout", SERVER_LIMIT, shell_quote(arg[-1] or "lua5.4"), shell_quote(arg[0]),
    "--serve", name, mode, shell_quote(dir) }
  if QUICK then cmd[#cmd + 1] = "--quick" end
  local p = assert(io.popen(table.concat(cmd, " "), "r"))
  local port = p:read("l")
  if not port then
    p:close()
    error("bench_lua: the " .. name .. " server did not start")
  end
  return p, tonumber(port)
end

local function finish_server(p, name)
  local ok, how, code = p:close()
  if not ok then
    io.stderr:write(string.format("bench_lua: the %s server failed (%s %s)\n", name, how, code))
    os.exit(1)
  end
end

local function one_run(v, mode, dir)
  local p, port = start_server(v.key, mode, dir)
  local figure
  if mode == "handshakes" then
    local t0 = socket.gettime()
    for _ = 1, HANDSHAKES do v.close(v.connect(port)) end
    figure = HANDSHAKES / (socket.gettime() - t0)
  elseif mode == "reconnects" then
    local msg, reused = string.rep("\0", 64), 0
    local t0 = socket.gettime()
    for _ = 1, HANDSHAKES do
      local c = v.connect(port)
      v.send_all(c, msg)
      recv_exact(v, c, 64) -- brings the TLS 1.3 tickets
      if v.reused(c) then reused = reused + 1 end
      v.close(c)
    end
    figure = HANDSHAKES / (socket.gettime() - t0)
    if v.key == "netsocket" and reused < HANDSHAKES - 1 then
      error(string.format("bench_lua: netsocket resumed %d of %d", reused, HANDSHAKES))
    end
  else
    local c = v.connect(port)
    if mode == "bulk" then
      local data = string.rep("\0", CHUNK)
      local t0 = socket.gettime()
      for _ = 1, BULK_BYTES // CHUNK do v.send_all(c, data) end
      recv_exact(v, c, 1)
      figure = BULK_BYTES / (socket.gettime() - t0) / 1e6
    else
      local msg = string.rep("\0", 64)
      local t0 = socket.gettime()
      for _ = 1, TRIPS do
        v.send_all(c, msg)
        recv_exact(v, c, 64)
      end
      figure = TRIPS / (socket.gettime() - t0)
    end
    v.close(c)
  end
  finish_server(p, v.name)
  return figure
end

-- Both variants must actually speak TLS 1.3 with a verified peer.
local function check_tls13(v, dir)
  local p, port = start_server(v.key, "check", dir)
  local c = v.connect(port)
  local mine, theirs = v.version(c), p:read("l")
  v.send_all(c, "k")
  v.close(c)
  finish_server(p, v.name)
  if mine ~= "TLSv1.3" or theirs ~= "TLSv1.3" then
    error(string.format("bench_lua: %s negotiated %s / %s, not TLSv1.3", v.name, mine, theirs))
  end
end

-- Resident bytes per idle server-side connection: the server process holds
-- IDLE_CONNECTIONS + 1 connections made by this process's netsocket clients
-- (the same clients for both variants).
local function memory_per_connection(v, clients, dir)
  local p, port = start_server(v.key, "memory", dir)
  local conns = {}
  for i = 1, IDLE_CONNECTIONS + 1 do conns[i] = clients.connect(port) end
  local per = tonumber(p:read("l"))
  clients.send_all(conns[1], "k")
  for _, c in ipairs(conns) do clients.close(c) end
  finish_server(p, v.name)
  if not per then error("bench_lua: the memory measurement failed") end
  return per
end

local function median(xs)
  table.sort(xs)
  local n = #xs
  if n % 2 == 1 then return xs[(n + 1) // 2] end
  return (xs[n // 2] + xs[n // 2 + 1]) / 2
end

local function alternate(a, b, mode, dir)
  local va, vb, ratios = {}, {}, {}
  for i = 1, RUNS do
    if i % 2 == 1 then
      va[i] = one_run(a, mode, dir)
      vb[i] = one_run(b, mode, dir)
    else
      vb[i] = one_run(b, mode, dir)
      va[i] = one_run(a, mode, dir)
    end
    ratios[i] = va[i] / vb[i]
  end
  return median(va), median(vb), median(ratios)
end

local function fmt(v, unit)
  return string.format(v >= 100 and "%.0f %s" or "%.2f %s", v, unit)
end

local function main()
  local mk = assert(io.popen("mktemp -d"))
  local dir = mk:read("l")
  mk:close()
  local ok, err = pcall(function()
    make_certs(dir)
    local ns, sec = variants.netsocket(dir), variants.luasec(dir)
    ns.key, sec.key = "netsocket", "luasec"
    check_tls13(ns, dir)
    check_tls13(sec, dir)
    if not ROWS_ONLY then
      print("| item | figure | netsocket | baseline | ratio | target |")
      print("|---|---|---:|---:|---:|---|")
    end
    local rows = {
      { "bulk", "TLS bulk, 64 KiB writes (vs LuaSec)", "MB/s", 1.0 },
      { "rtt", "TLS 64 B round trips (vs LuaSec)", "/s", 1.0 },
      { "handshakes", "TLS full handshakes (vs LuaSec)", "/s", 1.0 },
      { "reconnects", "TLS reconnects + 64 B round trip, resumed (vs LuaSec ssl.wrap reconnecting: "
        .. "no session API, full handshakes)", "/s", 1.0 },
    }
    for _, row in ipairs(rows) do
      local mode, figure, unit, target = table.unpack(row)
      local a, b, r = alternate(ns, sec, mode, dir)
      print(string.format("| 4 Lua | %s | %s | %s | %.3f | >= %.2f %s |", figure, fmt(a, unit), fmt(b, unit),
        r, target, r >= target and "met" or "**missed**"))
      io.stdout:flush()
    end
    local a = memory_per_connection(ns, ns, dir)
    local b = memory_per_connection(sec, ns, dir)
    print(string.format("| 5 memory (Lua) | RSS per idle TLS conn (server), %d conns, vs LuaSec "
      .. "| %.0f B | %.0f B | %.3f | netsocket <= 16384 B %s |", IDLE_CONNECTIONS, a, b,
      b ~= 0 and a / b or 0, a <= 16384 and "met" or "**missed**"))
    io.stdout:flush()
  end)
  os.execute("rm -rf " .. shell_quote(dir))
  if not ok then
    io.stderr:write(tostring(err), "\n")
    os.exit(1)
  end
end

if arg[1] == "--serve" then
  local ok, err = pcall(serve, arg[2], arg[3], arg[4])
  if not ok then
    io.stderr:write("bench_lua: ", arg[2], " server: ", tostring(err), "\n")
    os.exit(1)
  end
  os.exit(0)
else
  main()
end
