-- Shared by the Lua test files beside test_netsocket.lua: test
-- certificates, a plain runner ("N passed, N failed, N skipped"), and a TLS pair made
-- in one Lua thread.  Loopback only; every loop is bounded.
local netsocket = require "netsocket"

local T = {}

local here = arg[0]:match("^(.*)/[^/]*$") or "."
T.lua = arg[-1] -- this interpreter, for child processes
local certdir -- made on first use
function T.read(name)
  if not certdir then
    certdir = os.tmpname()
    os.remove(certdir)
    assert(os.execute(("sh '%s/../gen-certs.sh' '%s' >/dev/null"):format(here, certdir)), "gen-certs.sh failed")
  end
  local f = assert(io.open(certdir .. "/" .. name, "rb"))
  local data = f:read("a")
  f:close()
  return data
end

function T.blocking(fields)
  fields = fields or {}
  if fields.non_blocking == nil then fields.non_blocking = false end
  fields.read_timeout = fields.read_timeout or 5000000
  return fields
end

local tests = {}
function T.test(name, fn) tests[#tests + 1] = { name, fn } end
function T.check(cond, msg) if not cond then error(msg or "check failed", 2) end end
function T.eq(a, b, msg)
  if a ~= b then
    error(("%sexpected %q, got %q"):format(msg and msg .. ": " or "", tostring(b), tostring(a)), 2)
  end
end

-- Runs `code` in a child interpreter with the same module paths; returns
-- its output and whether it exited with 0.
function T.run_lua(code)
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(code)
  f:close()
  local p = assert(io.popen(("'%s' '%s' 2>&1"):format(T.lua, script)))
  local out = p:read("a")
  local ok = p:close()
  os.remove(script)
  return out, ok
end

-- A TLS server on 127.0.0.1 whose accepted sockets do not handshake yet.
function T.tls_server(server_fields)
  server_fields = T.blocking(server_fields)
  server_fields.certificates = server_fields.certificates or { T.read("server.pem") }
  server_fields.private_key = server_fields.private_key or T.read("server.key")
  server_fields.handshake = false
  return netsocket.make_server_tls_socket("127.0.0.1", "0", netsocket.server_tls_socket_options(server_fields))
end

-- Client fields for T.tls_connect: no handshake at connect, non-blocking.
function T.stepped(client_fields)
  client_fields.handshake, client_fields.non_blocking = false, true
  client_fields.read_timeout = 5000000
  return client_fields
end

-- A client of srv made with options (see T.stepped) and the accepted
-- socket, handshaken (see T.handshake_both).
function T.tls_connect(srv, options)
  local c = netsocket.make_client_tls_socket("localhost", select(2, srv:info()), options)
  return T.handshake_both(c, srv:accept())
end

-- Both ends of a TLS connection in this Lua thread: non-blocking
-- handshakes stepped alternately.  Returns client, accepted (blocking), or
-- raises the first failure.
function T.tls_pair(server_fields, client_fields)
  local srv = T.tls_server(server_fields)
  local ok, c, conn = pcall(T.tls_connect, srv, netsocket.tls_socket_options(T.stepped(client_fields)))
  srv:close()
  if not ok then error(c, 0) end
  return c, conn
end

-- Steps the non-blocking handshakes of client c and accepted conn
-- alternately; returns both, blocking again, or raises the first failure.
function T.handshake_both(c, conn)
  conn:set_non_blocking(true)
  local done = {}
  for _ = 1, 5000 do
    for i, sock in ipairs { c, conn } do
      if not done[i] then
        local ok, finished = pcall(sock.handshake, sock)
        if not ok then
          c:close()
          conn:close()
          error(finished, 0)
        end
        done[i] = finished
      end
    end
    if done[1] and done[2] then
      c:set_non_blocking(false)
      conn:set_non_blocking(false)
      return c, conn
    end
  end
  error("the handshake did not finish", 2)
end

-- Runs a list of {name, fn}, prints "N passed, N failed", removes the
-- certificate directory `dir` and exits with the verdict.
-- Ends a test as skipped: counted and printed apart, never as passed.
local SKIPPED = {}
function T.skip(why) error({ [SKIPPED] = why }, 0) end

function T.run_tests(list, dir)
  local passed, failed, skipped = 0, 0, 0
  for _, t in ipairs(list) do
    local ok, err = xpcall(t[2], function(e)
      return (type(e) == "table" and e[SKIPPED]) and e or debug.traceback(e)
    end)
    if ok then
      passed = passed + 1
    elseif type(err) == "table" and err[SKIPPED] then
      skipped = skipped + 1
      print(("SKIP %s: %s"):format(t[1], err[SKIPPED]))
    else
      failed = failed + 1
      io.stderr:write(("FAIL %s: %s\n"):format(t[1], tostring(err)))
    end
    collectgarbage()
  end
  if dir then os.execute(("rm -rf '%s'"):format(dir)) end
  print(("%d passed, %d failed, %d skipped"):format(passed, failed, skipped))
  os.exit(failed == 0 and 0 or 1)
end

function T.run() T.run_tests(tests, certdir) end

return T
