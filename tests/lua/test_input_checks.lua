-- Input a script gets wrong is an error naming the cause, never silently
-- something else (issue 13): timeouts, ports, NUL bytes, a string for a
-- list.  Loopback only.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local T = require "testlib"
local netsocket = require "netsocket"
local test, eq = T.test, T.eq

local TIMEOUT_RANGE = "a timeout is 0 or more microseconds, or -1 for no limit"
local NUL = "a string given to netsocket must not contain a NUL character"

local function message(f, ...)
  local ok, err = pcall(f, ...)
  T.check(not ok, "no error")
  return type(err) == "table" and err.message or tostring(err):gsub("^[^:]*:%d+: ", "")
end

test("timeouts are integers, -1 or more", function()
  eq(message(netsocket.socket_options, { read_timeout = 1.5 }),
     "netsocket.socket_options: read_timeout: a timeout is an integer number of microseconds")
  for _, value in ipairs { -2, -5, math.mininteger } do
    eq(message(netsocket.socket_options, { connection_timeout = value }),
       "netsocket.socket_options: connection_timeout: " .. TIMEOUT_RANGE)
    local o = netsocket.socket_options()
    eq(message(o.set_read_timeout, o, value), TIMEOUT_RANGE)
  end
  local o = netsocket.socket_options { read_timeout = -1, connection_timeout = 0 }
  eq(o.read_timeout, -1)
  eq(o.connection_timeout, 0)
end)

test("ports over 65535 are refused, not wrapped", function()
  local server = netsocket.make_server_socket("127.0.0.1", "0", netsocket.socket_options(T.blocking {}))
  local _, port = server:info()
  local wrapped = port + 65536
  for _, service in ipairs { wrapped, tostring(wrapped) } do
    eq(message(netsocket.make_client_socket, "127.0.0.1", service, netsocket.socket_options(T.blocking {})),
       ("connect to 127.0.0.1:%d: port %d is out of range (0 to 65535)"):format(wrapped, wrapped))
  end
  eq(message(netsocket.make_server_socket, "127.0.0.1", 70000),
     "listen on 127.0.0.1:70000: port 70000 is out of range (0 to 65535)")
  server:close()
end)

test("strings with NUL bytes are refused", function()
  eq(message(netsocket.make_client_socket, "localhost\0.corp.example", "1"), NUL)
  eq(message(netsocket.make_client_socket, "127.0.0.1", "1\0"), NUL)
  eq(message(netsocket.tls_socket_options, { alpn = { "h2\0http/1.1" } }), "netsocket.tls_socket_options: alpn: " .. NUL)
end)

test("a single string for a list names the list", function()
  eq(message(netsocket.tls_socket_options, { alpn = "h2" }),
     "netsocket.tls_socket_options: alpn takes a list of strings, not string")
end)

T.run()
