-- The module as a Lua user expects it (issue 13): tostring describes the
-- object, never a SWIG type and pointer.  Loopback only.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local T = require "testlib"
local netsocket = require "netsocket"
local test, eq = T.test, T.eq

test("tostring of options", function()
  local o = netsocket.tls_socket_options(T.blocking { alpn = { "h2", "http/1.1" }, sni = { "example.org" } })
  eq(tostring(o), 'netsocket.Options<kind=tls non_blocking=false connection_timeout=none ' ..
     'read_timeout=5000000us handshake=true alpn=["h2", "http/1.1"] sni=["example.org"] ' ..
     "certificates=0 private_key=no trusted_certificates=0 verifier=no>")
  eq(tostring(netsocket.socket_options()),
     "netsocket.Options<kind=socket non_blocking=true connection_timeout=none read_timeout=none>")
end)

test("tostring of sockets and selectors", function()
  local srv = netsocket.make_server_socket("127.0.0.1", "0", netsocket.socket_options(T.blocking()))
  local port = select(2, srv:info())
  eq(tostring(srv), ("netsocket.Socket<fd=%d local=127.0.0.1:%d listening>"):format(srv:fileno(), port))
  srv:close()
  eq(tostring(srv), "netsocket.Socket<closed>")
  local c, conn = T.tls_pair({}, { trusted_certificates = { T.read("ca.pem") } })
  eq(tostring(c), ("netsocket.Socket<fd=%d tls=TLSv1.3 local=127.0.0.1:%d peer=127.0.0.1:%d>"):format(
     c:fileno(), select(2, c:info()), select(2, c:peer())))
  local sel = netsocket.Selector()
  sel:add(c)
  eq(tostring(sel), "netsocket.Selector<sockets=1>")
  sel:remove(c)
  c:close()
  conn:close()
end)

test("argument errors name the method and the type", function()
  local o = netsocket.socket_options()
  local cases = {
    { function() o:set_read_timeout("x") end, "netsocket.Options:set_read_timeout: argument 1 must be integer, not string" },
    { function() netsocket.Options("tls") end, "netsocket.Options: argument 1 must be integer, not string" },
    { function() netsocket.make_client_socket({}, "1") end,
      "netsocket.make_client_socket: argument 1 must be string, not table" },
    { function() o:set_read_timeout() end, "netsocket.Options:set_read_timeout: expects 1 argument(s), got 0" },
  }
  for _, case in ipairs(cases) do
    local ok, err = pcall(case[1])
    eq(ok, false)
    eq(err, case[2])
  end
end)

T.run()
