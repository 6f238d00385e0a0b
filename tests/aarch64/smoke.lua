-- smoke.lua CERTDIR — the cross-built Lua binding, run under qemu-aarch64:
-- loads, prints its version (tests/aarch64/bindings.sh checks the module is
-- an AArch64 ELF), and does one TLS round trip
-- over 127.0.0.1 between a netsocket server and client in this one Lua
-- thread (handshakes interleaved, non-blocking; bounded in rounds and time).
local netsocket = require "netsocket"
local dir = assert(arg[1], "usage: smoke.lua CERTDIR")
local function read(name)
  local f = assert(io.open(dir .. "/" .. name, "rb"))
  local data = f:read("a")
  f:close()
  return data
end

local srv = netsocket.make_server_tls_socket("127.0.0.1", "0", netsocket.server_tls_socket_options {
  certificates = { read("server.pem") }, private_key = read("server.key"),
  handshake = false, non_blocking = false, read_timeout = 20000000 })
local c = netsocket.make_client_tls_socket("localhost", select(2, srv:info()), netsocket.tls_socket_options {
  trusted_certificates = { read("ca.pem") }, handshake = false, non_blocking = true })
local conn = srv:accept()
conn:set_non_blocking(true)
local done, deadline = {}, os.time() + 60
for _ = 1, 1000000 do
  for i, s in ipairs { c, conn } do
    if not done[i] then
      local ok, want = s:handshake()
      assert(ok or want == "wantread" or want == "wantwrite", tostring(want))
      done[i] = ok
    end
  end
  if (done[1] and done[2]) or os.time() > deadline then break end
end
assert(done[1] and done[2], "handshake did not finish")
c:set_non_blocking(false)
conn:set_non_blocking(false)
local payload = "ping\0aarch64"
assert(c:send_all(payload) == #payload)
local got = conn:recv(100)
assert(got == payload, ("server got %q"):format(got))
conn:send_all(got:upper())
local back = c:recv(100)
assert(back == "PING\0AARCH64", ("client got %q"):format(back))
local tls = c:tls_version()
c:close()
conn:close()
srv:close()
print(("lua: netsocket %s, %s round trip ok"):format(netsocket.version(), tls))
