-- Lua's (LuaSec's) convention (issue 13): a call that would block returns
-- nil, "wantread" or nil, "wantwrite" instead of raising.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local T = require "testlib"
local netsocket = require "netsocket"
local test, eq = T.test, T.eq

local function pair()
  local srv = netsocket.make_server_socket("127.0.0.1", "0", netsocket.socket_options())
  local c = netsocket.make_client_socket("127.0.0.1", select(2, srv:info()), netsocket.socket_options())
  local conn
  for _ = 1, 1000 do
    conn = srv:accept()
    if conn then break end
  end
  return srv, c, conn
end

test("recv and accept that would block: nil, \"wantread\"", function()
  local srv, c, conn = pair()
  local n = select("#", c:recv(10))
  local data, want = c:recv(10)
  eq(n, 2)
  eq(data, nil)
  eq(want, "wantread")
  local s, w = srv:accept()
  eq(s, nil)
  eq(w, "wantread")
  for _, h in ipairs { c, conn, srv } do h:close() end
end)

test("send on a full buffer: nil, \"wantwrite\"", function()
  local srv, c, conn = pair()
  local chunk = ("x"):rep(65536)
  local sent, want
  for _ = 1, 10000 do
    sent, want = c:send(chunk)
    if not sent then break end
  end
  eq(sent, nil)
  eq(want, "wantwrite")
  for _, h in ipairs { c, conn, srv } do h:close() end
end)

test("a non-blocking TLS handshake: nil, \"wantread\", then true", function()
  local c, conn = T.tls_pair({}, { trusted_certificates = { T.read("ca.pem") } })
  eq(c:handshake(), true)
  c:close()
  conn:close()
  local srv = netsocket.make_server_tls_socket("127.0.0.1", "0", netsocket.server_tls_socket_options(
    T.blocking { certificates = { T.read("server.pem") }, private_key = T.read("server.key"), handshake = false }))
  local client = netsocket.make_client_tls_socket("localhost", select(2, srv:info()), netsocket.tls_socket_options {
    trusted_certificates = { T.read("ca.pem") }, handshake = false })
  local done, w = client:handshake()
  eq(done, nil)
  eq(w, "wantread")
  client:close()
  srv:close()
end)

T.run()
