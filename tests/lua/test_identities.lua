-- Server identity and keys from Lua: protected keys (a string or a function
-- password; PKCS#12), the key log file, Encrypted Client Hello (accepted,
-- rejected with retry configs, GREASE), a certificate per name and rotation.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local T = require "testlib"
local netsocket = require "netsocket"
local test, eq, check, read = T.test, T.eq, T.check, T.read

local function raises(fn, ...)
  local ok, err = pcall(fn, ...)
  check(not ok, "expected an error")
  return err
end

-- One handshake with `srv` (kept open) in this thread.  Returns client,
-- accepted, or raises.
local function connect(srv, node, client_fields)
  client_fields = T.blocking(client_fields)
  client_fields.handshake, client_fields.non_blocking = false, true
  if not client_fields.trusted_certificates then client_fields.trusted_certificates = { read("ca.pem") } end
  local c = netsocket.make_client_tls_socket(node, select(2, srv:info()), netsocket.tls_socket_options(client_fields))
  return T.handshake_both(c, srv:accept())
end

local function server(fields)
  fields = T.blocking(fields)
  fields.handshake = false
  if not fields.certificates then fields.certificates = { read("server.pem") } end
  if not fields.private_key then fields.private_key = read("server.key") end
  return netsocket.server_tls_socket_options(fields)
end

test("encrypted key with a string or a function password", function()
  local calls = 0
  for _, pw in ipairs { "s3cret", function() calls = calls + 1; return "s3cret" end } do
    local o = netsocket.server_tls_socket_options { certificates = { read("server.pem") } }
    o:set_private_key_with_password(read("server-enc.key"), pw)
    eq(o.has_private_key, true)
  end
  eq(calls, 1)
  local o = netsocket.server_tls_socket_options { private_key = read("server.key") }
  local err = raises(o.set_private_key_with_password, o, read("server-enc.key"), "wrong")
  eq(err.status, "NS_ERR_INVALID")
  eq(err.message, "private-key: wrong password (or a damaged encrypted key)")
  err = raises(o.set_private_key, o, read("server-enc.key"))
  eq(err.message, "private-key: the key is encrypted and no password was given")
  o:add_certificate(read("server.pem")) -- still the plain key
end)

test("PKCS#12 bundle and key log file", function()
  local log = os.tmpname()
  os.remove(log)
  local so = netsocket.server_tls_socket_options(T.blocking { handshake = false, key_log_file = log })
  so:set_pkcs12(read("server.p12"), "s3cret")
  eq(#so.certificates, 2)
  eq(so.key_log_file, log)
  local srv = netsocket.make_server_tls_socket("127.0.0.1", "0", so)
  local c, conn = connect(srv, "localhost")
  eq(c:peer_certificate(), so.certificates[1])
  c:close()
  conn:close()
  srv:close()
  local labels = {}
  for line in io.lines(log) do labels[#labels + 1] = line:match("^(%S+)") end
  os.remove(log)
  eq(table.concat(labels, ","), "CLIENT_HANDSHAKE_TRAFFIC_SECRET,SERVER_HANDSHAKE_TRAFFIC_SECRET," ..
     "CLIENT_TRAFFIC_SECRET_0,SERVER_TRAFFIC_SECRET_0,EXPORTER_SECRET")
  eq(raises(so.set_pkcs12, so, read("server.p12"), "wrong").message, "pkcs12: wrong password: INCORRECT_PASSWORD")
  eq(raises(so.set_pkcs12, so, "junk", nil).message, "pkcs12: not a valid PKCS#12 bundle: BAD_PKCS12_DATA")
  eq(#so.certificates, 2)
end)

test("key log callback", function()
  local labels = {}
  local function collect(line) labels[#labels + 1] = line:match("^(%S+)") end
  local srv = netsocket.make_server_tls_socket("127.0.0.1", "0", server {})
  local co = netsocket.tls_socket_options { key_log_callback = collect }
  eq(co.key_log_callback, collect)
  local c, conn = connect(srv, "localhost", { from = co })
  c:close()
  conn:close()
  srv:close()
  eq(table.concat(labels, ","), "CLIENT_HANDSHAKE_TRAFFIC_SECRET,SERVER_HANDSHAKE_TRAFFIC_SECRET," ..
     "CLIENT_TRAFFIC_SECRET_0,SERVER_TRAFFIC_SECRET_0,EXPORTER_SECRET")
end)

local function ech_server()
  local so = server { certificates = { read("alt.pem") }, private_key = read("alt.key") }
  so:generate_ech_key("public.test", 9)
  return so
end

test("ECH accepted, rejected with retry configs, GREASE", function()
  local so = ech_server()
  local published = so.published_ech_config_list
  eq(so.ech_key_count, 1)
  local srv = netsocket.make_server_tls_socket("127.0.0.1", "0", so)
  local c, conn = connect(srv, "127.0.0.1", { sni = { "alt.test" }, ech_config_list = published })
  eq(c:ech_accepted(), true)
  eq(conn:ech_accepted(), true)
  eq(conn:server_name(), "alt.test")
  c:close()
  conn:close()
  c, conn = connect(srv, "127.0.0.1", { sni = { "alt.test" }, ech_grease = true })
  eq(c:ech_accepted(), false)
  c:close()
  conn:close()
  local err = raises(connect, srv, "127.0.0.1",
                     { sni = { "alt.test" }, ech_config_list = ech_server().published_ech_config_list })
  srv:close()
  eq(err.status, "NS_ERR_TLS")
  check(err.message:find(": the server rejected ECH and sent retry configs: retry with them", 1, true), err.message)
  eq(netsocket.last_ech_retry_configs(), published)
  local o = netsocket.tls_socket_options()
  eq(raises(o.set_ech_config_list, o, "\0\5junk").message,
     "ech-config-list: not a valid ECHConfigList: INVALID_ECH_CONFIG_LIST")
end)

test("a certificate per name, and rotation", function()
  local so = server {}
  so:add_identity(read("alt.pem"), read("alt.key"))
  so:add_identity_name(0, "other.test")
  eq(so.identity_count, 1)
  eq(raises(so.add_identity, so, read("alt.pem"), read("server.key")).message,
     "identity: the private key does not match the first certificate")
  local srv = netsocket.make_server_tls_socket("127.0.0.1", "0", so)
  local c, conn = connect(srv, "127.0.0.1", { sni = { "other.test" }, certificate_verifier = function() return true end })
  local alt_der = c:peer_certificate()
  eq(conn:identity_index(), 0)
  eq(conn:server_name(), "other.test")
  c:close()
  conn:close()
  c, conn = connect(srv, "localhost")
  local default_der = c:peer_certificate()
  eq(conn:identity_index(), -1)
  c:close()
  conn:close()
  srv:replace_identities(server { certificates = { read("alt.pem") }, private_key = read("alt.key") })
  c, conn = connect(srv, "127.0.0.1", { sni = { "alt.test" } })
  eq(c:peer_certificate(), alt_der)
  check(alt_der ~= default_der)
  c:close()
  conn:close()
  srv:close()
end)

T.run()
