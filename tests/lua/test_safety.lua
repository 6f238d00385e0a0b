-- Script code cannot crash the interpreter or fail open (issue 13): __gc
-- called by hand, verifiers returning something other than a boolean.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local T = require "testlib"
local netsocket = require "netsocket"
local test, eq = T.test, T.eq

test("__gc called by hand frees once; later use raises", function()
  local out, ok = T.run_lua [[
    local netsocket = require "netsocket"
    local handles = {
      { "Options", netsocket.socket_options(), function(o) return o.read_timeout end },
      { "Socket", netsocket.make_server_socket("127.0.0.1", "0"), function(s) return s:fileno() end },
      { "Selector", netsocket.Selector().core, function(c) return c:count() end },
    }
    for _, h in ipairs(handles) do
      local name, handle, use = h[1], h[2], h[3]
      local gc = getmetatable(handle).__gc
      gc(handle)
      gc(handle)
      print(name, pcall(use, handle))
    end
    print(pcall(getmetatable(handles[1][2]).__gc, {}))
    handles = nil
    collectgarbage()
    print("done")
  ]]
  eq(out, "Options\tfalse\tnetsocket: this Options was freed\n" ..
          "Socket\tfalse\tnetsocket: this Socket was freed\n" ..
          "Selector\tfalse\tnetsocket: this Selector was freed\n" ..
          "false\tbad argument #1 to '?' (a netsocket handle expected)\n" ..
          "done\n")
  T.check(ok, "the child failed")
end)

test("a verifier must return a boolean: anything else rejects", function()
  for _, case in ipairs { { 0, "0 (a number)" }, { 1, "1 (a number)" }, { "yes", "yes (a string)" },
                          { nil, "nil (a nil)" } } do
    local value, shown = case[1], case[2]
    local ok, err = pcall(T.tls_pair, {}, { trusted_certificates = { T.read("other-ca.pem") },
                                            certificate_verifier = function() return value end })
    T.check(not ok, "the handshake should fail")
    eq(err.status, "NS_ERR_CERTIFICATE")
    local port = err.message:match("^TLS handshake with localhost:(%d+):")
    eq(err.message, "TLS handshake with localhost:" .. tostring(port) .. ": the certificate verifier rejected " ..
                    "the certificate at depth 0 (unable to get local issuer certificate) (the certificate " ..
                    "verifier returned " .. shown .. ", not a boolean: rejected)")
  end
end)

T.run()
