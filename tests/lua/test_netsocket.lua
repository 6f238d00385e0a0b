-- Lua binding tests: a plain runner that prints "N passed, N failed".
-- LuaSec (OpenSSL) is loaded before netsocket on purpose: both TLS libraries
-- live in this process.  Loopback only; every loop is bounded.
local socket = require "socket"
local ssl = require "ssl"
local netsocket = require "netsocket"

local here = arg[0]:match("^(.*)/[^/]*$") or "."
local certdir = os.tmpname()
os.remove(certdir)
assert(os.execute(("sh '%s/../gen-certs.sh' '%s'"):format(here, certdir)), "gen-certs.sh failed")
local function path(name) return certdir .. "/" .. name end
local function read(name)
  local f = assert(io.open(path(name), "rb"))
  local data = f:read("a")
  f:close()
  return data
end

local TIMEOUT_US = 5000000
local function blocking(fields)
  fields = fields or {}
  if fields.non_blocking == nil then fields.non_blocking = false end
  fields.read_timeout = fields.read_timeout or TIMEOUT_US
  return fields
end

-- ------------------------------------------------------------ runner
local tests = {}
local function test(name, fn) tests[#tests + 1] = { name, fn } end

local function check(cond, msg, level)
  if not cond then error(msg or "check failed", (level or 1) + 1) end
end
local function eq(a, b, msg)
  if a ~= b then
    error(("%sexpected %q, got %q"):format(msg and msg .. ": " or "", tostring(b), tostring(a)), 2)
  end
end
-- Calls fn(...) and checks it raises a netsocket error with `status`.
local function raises(status, fn, ...)
  local ok, err = pcall(fn, ...)
  check(not ok, "expected " .. status .. ", got success", 2)
  check(type(err) == "table", "expected an error table, got " .. tostring(err), 2)
  eq(err.status, status)
  check(tostring(err) == err.message and #err.message > 0, "error message", 2)
  return err
end

-- Runs step functions (each returns true when done) alternately until all
-- are done: two ends of a non-blocking handshake in one Lua thread.  On
-- loopback the peer's answer is usually there at once: the first rounds
-- retry without sleeping.
local function pump(...)
  local steps, done = { ... }, {}
  for round = 1, 2000 do
    local all = true
    for i, step in ipairs(steps) do
      if not done[i] then done[i] = step() end
      all = all and done[i]
    end
    if all then return end
    if round > 20 then socket.sleep(0.001) end
  end
  error("pump: handshake did not finish", 2)
end

-- A netsocket handshake step: true when done, false to retry, raises otherwise.
local function ns_step(sock)
  return function()
    local done, want = sock:handshake()
    if done then return true end
    check(want == "wantread" or want == "wantwrite", tostring(want))
    return false
  end
end
local function luasec_step(conn)
  return function()
    local ok, err = conn:dohandshake()
    if ok then return true end
    if err == "wantread" or err == "wantwrite" or err == "timeout" then return false end
    error("LuaSec handshake: " .. tostring(err), 0)
  end
end

local function server_options(fields)
  fields = blocking(fields)
  fields.certificates = fields.certificates or { read("server.pem") }
  fields.private_key = fields.private_key or read("server.key")
  return netsocket.server_tls_socket_options(fields)
end
local function client_options(fields)
  fields = blocking(fields)
  fields.trusted_certificates = fields.trusted_certificates or { read("ca.pem") }
  return netsocket.tls_socket_options(fields)
end

-- netsocket at both ends, handshakes interleaved; raises the first failure.
-- copts: a table of fields, or prepared options (handshake=false, non_blocking=true).
local function tls_pair(sopts, copts)
  sopts.handshake = false
  if type(copts) == "table" then
    copts.handshake, copts.non_blocking = false, true
    copts = client_options(copts)
  end
  local srv = netsocket.make_server_tls_socket("127.0.0.1", "0", server_options(sopts))
  local c = netsocket.make_client_tls_socket("localhost", select(2, srv:info()), copts)
  local conn = srv:accept()
  conn:set_non_blocking(true)
  local ok, err = pcall(pump, ns_step(c), ns_step(conn))
  srv:close()
  if not ok then
    c:close()
    conn:close()
    error(err, 0)
  end
  c:set_non_blocking(false)
  conn:set_non_blocking(false)
  return c, conn
end

-- ------------------------------------------------------------ builders
test("require adds no globals", function()
  eq(rawget(_G, "netsocket"), nil)
  eq(rawget(_G, "swig_type"), nil)
  eq(package.loaded.netsocket, netsocket)
end)

test("builders, defaults and predicates", function()
  local o = netsocket.socket_options()
  eq(o.kind, netsocket.NS_SOCKET_OPTIONS)
  eq(math.type(o.kind), "integer")
  eq(o.ai_family, netsocket.AF_INET)
  eq(o.ai_socktype, netsocket.SOCK_STREAM)
  eq(o.ai_flags, netsocket.AI_V4MAPPED)
  eq(o.non_blocking, true)
  eq(o.read_timeout, -1)
  eq(o.connection_timeout, -1)
  check(netsocket.is_socket_options(o))
  check(not netsocket.is_tls_socket_options(o))
  check(not netsocket.is_socket_options("nope"))
  check(not netsocket.is_socket_options(nil))

  local t = netsocket.tls_socket_options { alpn = { "h2", "http/1.1" }, sni = { "a.test" }, handshake = false,
                                           read_timeout = 1000 }
  eq(#t.alpn, 2)
  eq(t.alpn[2], "http/1.1")
  eq(t.sni[1], "a.test")
  eq(t.handshake, false)
  eq(t.read_timeout, 1000)
  check(netsocket.is_tls_socket_options(t) and not netsocket.is_server_tls_socket_options(t))
  eq(t.certificate_verifier, nil)

  local s = netsocket.server_tls_socket_options { client_certificate_required = true,
                                                  trusted_certificates = { read("ca.pem") } }
  eq(s.client_certificate_required, true)
  eq(#s.trusted_certificates, 1)
  eq(s.trusted_certificates[1]:byte(1), 0x30) -- DER
  check(netsocket.is_server_tls_socket_options(s))

  local copy = netsocket.tls_socket_options { from = t, sni = { "b.test" } }
  eq(copy.sni[2], "b.test")
  local f = function() return true end
  eq(netsocket.tls_socket_options { certificate_verifier = f }.certificate_verifier, f)
end)

test("builder errors", function()
  local err = raises("NS_ERR_INVALID", netsocket.socket_options, { alpn = { "h2" } })
  check(err.message:find("alpn"), err.message)
  raises("NS_ERR_INVALID", netsocket.tls_socket_options, { certificates = { "junk" } })
  check(not pcall(netsocket.socket_options, { no_such_field = 1 }))
end)

test("builder errors name the field and what it takes", function()
  local function message(fn, fields)
    local ok, err = pcall(fn, fields)
    check(not ok, "expected an error")
    return tostring(err)
  end
  local where = debug.getinfo(1, "S").short_src .. ":" .. debug.getinfo(message, "S").linedefined + 1
  eq(message(netsocket.tls_socket_options, { alpn = "h2" }),
     where .. ": netsocket.tls_socket_options: alpn takes a list of strings, not string")
  eq(message(netsocket.socket_options, { read_timeout = { 1 } }), where ..
     ": netsocket.socket_options: read_timeout takes an integer (microseconds, -1 = no limit), not table")
  eq(message(netsocket.tls_socket_options, { certificate_verifier = 42 }), where ..
     ": netsocket.tls_socket_options: certificate_verifier takes a callable (depth, preverify_error, der) " ..
     "or nothing, not number")
  local unknown = message(netsocket.socket_options, { no_such_field = 1 })
  local prefix = where .. ": netsocket.socket_options: no option field no_such_field (the fields: ai_family, "
  eq(unknown:sub(1, #prefix), prefix)
  eq(message(netsocket.socket_options, { alpn = { "h2" } }), "alpn* is not a field of socket-options")
end)

test("option fields: one table", function()
  local names, o = {}, netsocket.Options(netsocket.NS_SERVER_TLS_SOCKET_OPTIONS)
  for _, row in ipairs(netsocket.option_fields()) do
    names[#names + 1] = row.field
    check(o[row.method], row.field)
    eq(row.method, (row.list and "add_" or "set_") .. row.method:sub(5))
    check(row.kinds & (1 << netsocket.NS_SERVER_TLS_SOCKET_OPTIONS | 1 << netsocket.NS_TLS_SOCKET_OPTIONS) ~= 0, row.field)
    if row.field == "sni" then -- the client's: a server picks identities by name (add_identity)
      eq(row.kinds, 1 << netsocket.NS_TLS_SOCKET_OPTIONS)
      eq(row.kinds_text, "client TLS options")
    end
    eq(row.list, row.type_text:sub(1, 9) == "a list of", row.field)
  end
  eq(table.concat(names, " "), "ai_family ai_socktype ai_flags ai_protocol non_blocking connection_timeout " ..
     "read_timeout handshake private_key private_key_file certificates certificate_files certificate_verifier " ..
     "sni alpn trusted_certificates trusted_certificate_files client_certificate_required ignore_unexpected_eof " ..
     "key_log_file key_log_callback ech_config_list ech_grease session_resumption sessions")
end)

test("status constants and names from one list", function()
  local expected = { NS_OK = 0, NS_ERR_INVALID = -1, NS_ERR_NOMEM = -2, NS_ERR_HOST_NOT_FOUND = -3,
    NS_ERR_CONNECT = -4, NS_ERR_CONNECT_TIMEOUT = -5, NS_ERR_READ_TIMEOUT = -6, NS_ERR_WOULD_BLOCK = -7,
    NS_ERR_CLOSED = -8, NS_ERR_TLS = -9, NS_ERR_CERTIFICATE = -10, NS_ERR_IO = -11,
    NS_ERR_WRITE_TIMEOUT = -12 }
  for name, value in pairs(netsocket) do
    if name == "NS_OK" or name:find("^NS_ERR_") then
      eq(value, expected[name], name)
      eq(netsocket.status_name(value), name)
      expected[name] = nil
    end
  end
  eq(next(expected), nil, "missing constants")
  eq(netsocket.status_name(-13), "NS_ERR_UNKNOWN")
end)

-- ------------------------------------------------------------ plain
test("plain exchange with embedded NUL bytes, __close", function()
  local srv <close> = netsocket.make_server_socket("127.0.0.1", "0", netsocket.socket_options(blocking()))
  local _, port = srv:info()
  local payload = ("a\0b\255"):rep(5000)
  local keep
  do
    local c <close> = netsocket.make_client_socket("127.0.0.1", port, netsocket.socket_options(blocking()))
    keep = c
    eq(c.node, "127.0.0.1")
    eq(c.service, tostring(port))
    check(not c:is_tls())
    local conn <close> = srv:accept()
    eq(c:send_all(payload), #payload)
    local got = {}
    local n = 0
    while n < #payload do
      local chunk = conn:recv(65536)
      got[#got + 1] = chunk
      n = n + #chunk
    end
    eq(table.concat(got), payload)
    conn:send_all("x\0y")
    conn:shutdown(netsocket.SHUT_WR)
    eq(c:recv(10), "x\0y")
    eq(c:recv(10), "") -- end of stream
    local ip, cport = conn:peer()
    eq(ip, "127.0.0.1")
    eq(cport, select(2, c:info()))
  end
  check(keep:is_closed(), "__close closed it")
  eq(keep:fileno(), -1)
  raises("NS_ERR_CLOSED", keep.send, keep, "x")
  keep:close() -- twice is fine
  keep = nil
  collectgarbage()
end)

test("socket_options_to_client_socket", function()
  local srv <close> = netsocket.make_server_socket("127.0.0.1", "0", netsocket.socket_options(blocking()))
  local c <close> = netsocket.socket_options_to_client_socket(netsocket.socket_options(blocking()), "127.0.0.1",
                                                              select(2, srv:info()))
  check(not c:is_tls())
  local conn <close> = srv:accept()
  conn:send_all("to")
  eq(c:recv(2), "to")
end)

test("read timeout and non-blocking recv", function()
  local srv <close> = netsocket.make_server_socket("127.0.0.1", "0", netsocket.socket_options(blocking()))
  local c <close> = netsocket.make_client_socket("127.0.0.1", select(2, srv:info()),
                                                 netsocket.socket_options { non_blocking = false, read_timeout = 100000 })
  local conn <close> = srv:accept()
  local t0 = socket.gettime()
  raises("NS_ERR_READ_TIMEOUT", c.recv, c, 10)
  check(socket.gettime() - t0 > 0.08, "timed out too early")
  c:set_non_blocking(true)
  check(c:is_non_blocking())
  eq(select("#", c:recv(10)), 2)
  eq(select(2, c:recv(10)), "wantread")
  conn:send_all("hi")
  local got
  for _ = 1, 200 do
    got = c:recv(10)
    if got then break end
    socket.sleep(0.005)
  end
  eq(got, "hi")
end)

-- ------------------------------------------------------------ TLS with LuaSec
test("TLS client against a LuaSec server with ALPN and SNI", function()
  local tcp = assert(socket.bind("127.0.0.1", 0))
  tcp:settimeout(5)
  local _, port = tcp:getsockname()
  local c <close> = netsocket.make_client_tls_socket("127.0.0.1", port, client_options {
    alpn = { "http/1.1" }, sni = { "localhost" }, handshake = false, non_blocking = true })
  local raw = assert(tcp:accept())
  tcp:close()
  local conn = assert(ssl.wrap(raw, { mode = "server", protocol = "any", options = "all",
                                      certificate = path("server.pem"), key = path("server.key"),
                                      alpn = { "h2", "http/1.1" } }))
  conn:settimeout(0)
  pump(ns_step(c), luasec_step(conn))
  eq(c:selected_alpn(), "http/1.1")
  eq(conn:getalpn(), "http/1.1")
  eq(conn:getsniname(), "localhost")
  check(c:tls_version() == "TLSv1.3" or c:tls_version() == "TLSv1.2")
  local pipe = io.popen(("openssl x509 -in '%s' -outform DER"):format(path("server.pem")), "r")
  eq(c:peer_certificate(), pipe:read("a"))
  pipe:close()
  c:set_non_blocking(false)
  c:send_all("hello\0tls")
  conn:settimeout(5)
  local msg = assert(conn:receive(9))
  assert(conn:send(msg:upper()))
  eq(c:recv(100), "HELLO\0TLS")
  conn:close()
end)

test("TLS server against a LuaSec client with mTLS", function()
  local srv <close> = netsocket.make_server_tls_socket("127.0.0.1", "0", server_options {
    alpn = { "h2" }, client_certificate_required = true, trusted_certificates = { read("ca.pem") },
    handshake = false })
  local raw = socket.tcp()
  raw:settimeout(5)
  assert(raw:connect("127.0.0.1", select(2, srv:info())))
  local conn = assert(ssl.wrap(raw, { mode = "client", protocol = "any", options = "all", verify = "peer",
                                      cafile = path("ca.pem"), certificate = path("client.pem"),
                                      key = path("client.key"), alpn = "h2" }))
  conn:sni("localhost")
  conn:settimeout(0)
  local peer <close> = srv:accept()
  peer:set_non_blocking(true)
  pump(ns_step(peer), luasec_step(conn))
  eq(peer:server_name(), "localhost")
  eq(peer:selected_alpn(), "h2")
  eq(conn:getalpn(), "h2")
  check(peer:peer_certificate():byte(1) == 0x30)
  conn:settimeout(5)
  assert(conn:send("ping"))
  peer:set_non_blocking(false)
  eq(peer:recv(100), "ping")
  peer:send_all("pong")
  eq(conn:receive(4), "pong")
  conn:close()
end)

test("mTLS between netsocket ends; a missing client certificate fails", function()
  local c, conn = tls_pair({ client_certificate_required = true, trusted_certificates = { read("ca.pem") } },
                           { certificates = { read("client.pem") }, private_key = read("client.key") })
  c:send_all("m")
  eq(conn:recv(1), "m")
  check(conn:peer_certificate() ~= nil)
  -- The peer's whole chain as sent (one certificate each way here) and the group.
  local chain, back = c:peer_certificate_chain(), conn:peer_certificate_chain()
  eq(#chain, 1)
  eq(chain[1], c:peer_certificate())
  eq(#back, 1)
  eq(back[1], conn:peer_certificate())
  eq(c:key_exchange_group(), "X25519")
  eq(conn:key_exchange_group(), "X25519")
  c:close()
  conn:close()
  local ok, err = pcall(tls_pair, { client_certificate_required = true,
                                    trusted_certificates = { read("ca.pem") } }, {})
  check(not ok and type(err) == "table", tostring(err))
  check(err.status == "NS_ERR_TLS" or err.status == "NS_ERR_CERTIFICATE", err.status)
end)

test("verifier accepts, rejects and raises", function()
  local calls = {}
  local function accept_all(depth, preverify_error, der)
    calls[#calls + 1] = { depth, preverify_error, der:byte(1) }
    return true
  end
  -- The client trusts nothing (the test CA is not in the system store):
  -- without the verifier the library rejects.
  local c, conn = tls_pair({}, { trusted_certificates = { read("other-ca.pem") }, certificate_verifier = accept_all })
  c:send_all("ok")
  eq(conn:recv(2), "ok")
  c:close()
  conn:close()
  check(#calls > 0)
  eq(calls[#calls][1], 0)
  eq(calls[#calls][3], 0x30)
  local saw_error = false
  for _, call in ipairs(calls) do saw_error = saw_error or call[2] ~= 0 end
  check(saw_error, "the library's verdict is passed in")

  for i, verifier in ipairs { function() return false end, function() error("boom") end,
                              function() error({}) end, false } do
    local ok, err = pcall(tls_pair, {}, { trusted_certificates = { read("other-ca.pem") },
                                          certificate_verifier = verifier or nil })
    check(not ok, "handshake should fail")
    eq(err.status, "NS_ERR_CERTIFICATE")
    if i == 2 then check(err.message:find("boom", 1, true), err.message) end
  end
end)

test("verifier runs on the coroutine doing the handshake", function()
  local seen
  local co = coroutine.create(function()
    local c, conn = tls_pair({}, { trusted_certificates = { read("other-ca.pem") },
                                   certificate_verifier = function()
                                     seen = coroutine.running()
                                     return true
                                   end })
    coroutine.yield("handshaken")
    c:close()
    conn:close()
  end)
  local ok, what = coroutine.resume(co)
  check(ok, tostring(what))
  eq(what, "handshaken")
  eq(seen, co)
  check(coroutine.resume(co))
end)

test("verifier outlives its options", function()
  local hits = 0
  local o = client_options { trusted_certificates = { read("other-ca.pem") }, handshake = false,
                             non_blocking = true, certificate_verifier = function() hits = hits + 1; return true end }
  local copy = o:copy(netsocket.NS_TLS_SOCKET_OPTIONS)
  o = nil
  collectgarbage()
  local c, conn = tls_pair({}, copy)
  copy = nil
  collectgarbage()
  c:send_all("x")
  eq(conn:recv(1), "x")
  c:close()
  conn:close()
  check(hits > 0)
end)

test("verifier is collected after its last user", function()
  local weak = setmetatable({}, { __mode = "v" })
  local copy
  do
    local verifier = function() return true end
    weak[1] = verifier
    copy = netsocket.tls_socket_options { certificate_verifier = verifier }:copy(netsocket.NS_TLS_SOCKET_OPTIONS)
  end
  collectgarbage()
  collectgarbage()
  check(weak[1] ~= nil, "collected while the copy still uses it")
  copy = nil
  collectgarbage()
  collectgarbage()
  eq(weak[1], nil, "the verifier was never released")
end)

-- ------------------------------------------------------------ errors
test("each error status", function()
  raises("NS_ERR_HOST_NOT_FOUND", netsocket.make_client_socket, "no-such-host.invalid", "80",
         netsocket.socket_options(blocking()))
  local srv = netsocket.make_server_socket("127.0.0.1", "0", netsocket.socket_options(blocking()))
  local _, port = srv:info()
  srv:close()
  local err = raises("NS_ERR_CONNECT", netsocket.make_client_socket, "127.0.0.1", port,
                     netsocket.socket_options(blocking()))
  eq(err.os_error, 111)
  local mute <close> = netsocket.make_server_socket("127.0.0.1", "0", netsocket.socket_options())
  raises("NS_ERR_CONNECT_TIMEOUT", netsocket.make_client_tls_socket, "127.0.0.1", select(2, mute:info()),
         client_options { connection_timeout = 200000 })
  local idle <close> = netsocket.make_server_socket("127.0.0.1", "0", netsocket.socket_options())
  eq(select(2, idle:accept()), "wantread")
  raises("NS_ERR_CLOSED", srv.accept, srv)
  raises("NS_ERR_TLS", tls_pair, { alpn = { "h2" } }, { alpn = { "x" } })
  raises("NS_ERR_CERTIFICATE", tls_pair, {}, { trusted_certificates = { read("other-ca.pem") } })
  raises("NS_ERR_INVALID", netsocket.make_server_tls_socket, "127.0.0.1", "0",
         netsocket.server_tls_socket_options())
  eq(netsocket.last_status(), netsocket.NS_ERR_INVALID)
end)

test("TLS errors carry the verify code, the alert and the names", function()
  local err = raises("NS_ERR_CERTIFICATE", tls_pair, {}, { sni = { "wrong.example" } })
  local tail = ": certificate rejected at depth 0: Hostname mismatch: expected \"wrong.example\", " ..
    "the certificate holds DNS:localhost, IP:127.0.0.1, IP:::1"
  check(err.message:find("^TLS handshake with localhost:%d+: ") and err.message:sub(-#tail) == tail, err.message)
  eq(err.verify_code, 62)
  eq(err.verify_message, "Hostname mismatch")
  eq(err.alert, "bad_certificate")
  eq(err.alert_code, 42)
  eq(err.alert_sent, true)
  local closed = raises("NS_ERR_CONNECT", netsocket.make_client_socket, "127.0.0.1", "1",
                        netsocket.socket_options(blocking()))
  eq(closed.verify_code, nil)
  eq(closed.alert, nil)
end)

-- ------------------------------------------------------------ selector
test("selector events, timeouts and interrupt", function()
  local srv <close> = netsocket.make_server_socket("127.0.0.1", "0", netsocket.socket_options(blocking()))
  local port = select(2, srv:info())
  local a <close> = netsocket.make_client_socket("127.0.0.1", port, netsocket.socket_options(blocking()))
  local conn_a <close> = srv:accept()
  local b <close> = netsocket.make_client_socket("127.0.0.1", port, netsocket.socket_options(blocking()))
  local sel = netsocket.Selector()
  sel:add(a, -1, "A"):add(b, 50000, { name = "B" })
  eq(#sel, 2)
  conn_a:send_all("!")
  local events = {}
  for _ = 1, 10 do
    for _, e in ipairs(sel:wait(2000000)) do events[#events + 1] = e end
    if #events == 2 then break end
  end
  eq(#events, 2)
  for _, e in ipairs(events) do
    if e.data == "A" then
      eq(e.socket, a)
      eq(e.timed_out, false)
    else
      eq(e.data.name, "B")
      eq(e.timed_out, true)
    end
  end
  eq(sel:count(), 0)
  eq(#sel:wait(10000), 0)
  sel:add(b)
  sel:interrupt()
  eq(#sel:wait(-1), 0)
  sel:remove(b)
  eq(sel:count(), 0)
end)

-- ------------------------------------------------------------ lifetime
-- Bytes of C heap in use (tests/heap_probe.c as a Lua module), after a full
-- collection; nil when NS_HEAP_PROBE is not set.
local function heap_in_use()
  local probe = os.getenv("NS_HEAP_PROBE")
  if not probe then return nil end
  local open = assert(package.loadlib(probe, "luaopen_ns_heap_probe"))
  collectgarbage()
  collectgarbage()
  return open().in_use()
end

-- Each cycle: new server and client options (certificate, key, CA, ALPN,
-- verifiers), a TLS handshake between two netsocket sockets, the TLS
-- queries, all closed.  A leak of 100 bytes per cycle is 1,000,000 over
-- 10,000; the bound is half that.
test("no leak over 10,000 TLS connections", function()
  if not heap_in_use() then
    return require("testlib").skip("NS_HEAP_PROBE (the test-only heap probe) is not set")
  end
  local accept_all = function() return true end
  local function cycle(n)
    for _ = 1, n do
      local c, conn = tls_pair({ alpn = { "h2" }, certificate_verifier = accept_all },
                               { alpn = { "h2" }, certificate_verifier = accept_all })
      eq(c:selected_alpn(), "h2")
      eq(conn:server_name(), "localhost")
      check(#c:peer_certificate() > 0)
      c:close()
      conn:close()
    end
  end
  cycle(1000)
  local before = heap_in_use()
  cycle(10000)
  local grown = heap_in_use() - before
  check(grown < 500000, ("the C heap grew by %d bytes over 10,000 TLS connections"):format(grown))
end)

-- ------------------------------------------------------------ run
package.path = here .. "/?.lua;" .. package.path
require("testlib").run_tests(tests, certdir)
