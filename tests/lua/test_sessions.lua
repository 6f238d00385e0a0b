-- Session resumption through the builders: one options object resumes,
-- session_reused() on both ends, a saved session loads into new options
-- (and a corrupt one is refused), resumption can be turned off.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local T = require "testlib"
local netsocket = require "netsocket"
local test, eq = T.test, T.eq

local function client_options(fields)
  fields.trusted_certificates = { T.read("ca.pem") }
  return netsocket.tls_socket_options(T.stepped(fields))
end

-- One connection to srv: whether both ends resumed, and the saved session.
local function visit(srv, options)
  local c, conn = T.tls_connect(srv, options)
  conn:send("x")
  eq(c:recv(1), "x") -- brings the TLS 1.3 tickets
  local reused = c:session_reused()
  eq(conn:session_reused(), reused)
  local ok, saved = pcall(c.save_session, c)
  c:close()
  conn:close()
  return reused, ok and saved or nil, not ok and saved.message or nil
end

test("one options object resumes; a saved session loads into new options", function()
  local srv = T.tls_server {}
  local o = client_options {}
  eq(o.session_resumption, true)
  eq((visit(srv, o)), false)
  local reused, saved = visit(srv, o)
  eq(reused, true)
  eq(type(saved), "string")
  -- A restarted process: new options given the saved session.
  eq((visit(srv, client_options { sessions = { saved } })), true)
  -- Not resumed after a change to the options.
  o:add_alpn("x-test")
  o:clear_alpn()
  eq((visit(srv, o)), false)
  srv:close()
end)

test("a corrupt saved session is refused; resumption off", function()
  local srv = T.tls_server {}
  local _, saved = visit(srv, client_options {})
  local bad = saved:sub(1, 40) .. string.char(saved:byte(41) ~ 0x20) .. saved:sub(42)
  local ok, err = pcall(client_options, { sessions = { bad } })
  eq(ok, false)
  eq(err.message, "session: corrupt (checksum mismatch)")
  local off = client_options { session_resumption = false }
  eq(off.session_resumption, false)
  eq((visit(srv, off)), false)
  local reused, none, why = visit(srv, off)
  eq(reused, false)
  eq(none, nil)
  T.check(why:find("no resumable session (resumption off, or no ticket yet", 1, true), why)
  local plain_ok, plain_err = pcall(netsocket.socket_options, { session_resumption = true })
  eq(plain_ok, false)
  eq(plain_err.message, "session-resumption? is not a field of socket-options")
  srv:close()
end)

T.run()
