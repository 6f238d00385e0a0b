-- Selector:watch (read/write interest, persistent) with the data owned by
-- the C selector: released when the socket leaves.  Loopback only.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local T = require "testlib"
local netsocket = require "netsocket"
local test, eq = T.test, T.eq

local function pair()
  local srv = netsocket.make_server_socket("127.0.0.1", "0", netsocket.socket_options { non_blocking = false })
  local c = netsocket.make_client_socket("127.0.0.1", select(2, srv:info()), netsocket.socket_options())
  return srv, c, srv:accept()
end

test("watch reports ready bits and stays", function()
  local srv, c, conn = pair()
  local sel = netsocket.Selector()
  sel:watch(c, netsocket.NS_WANT_READ | netsocket.NS_WANT_WRITE, -1, "c")
  local ev = sel:wait(1000000)
  eq(#ev, 1)
  eq(ev[1].socket, c)
  eq(ev[1].data, "c")
  eq(ev[1].timed_out, false)
  eq(ev[1].ready, netsocket.NS_WANT_WRITE)
  conn:send_all("x")
  ev = sel:wait(1000000)
  eq(ev[1].ready, netsocket.NS_WANT_READ | netsocket.NS_WANT_WRITE)
  eq(sel:count(), 1)
  sel:remove(c)
  eq(sel:count(), 0)
  for _, s in ipairs { c, conn, srv } do s:close() end
end)

test("data is released when the socket leaves: close, remove, one-shot event, selector freed", function()
  local released = setmetatable({}, { __mode = "v" })
  local sel = netsocket.Selector()
  for _, leave in ipairs { "close", "remove", "event", "free" } do
    local srv, c, conn = pair()
    local other = netsocket.Selector()
    local data = {}
    released[leave] = data
    if leave == "event" then sel:add(c, -1, data)
    elseif leave == "free" then other:watch(c, nil, -1, data)
    else sel:watch(c, nil, -1, data) end
    data = nil
    if leave == "close" then c:close()
    elseif leave == "remove" then sel:remove(c)
    elseif leave == "event" then conn:send_all("x"); eq(#sel:wait(1000000), 1) end
    other = nil
    collectgarbage()
    collectgarbage()
    for _, s in ipairs { c, conn, srv } do s:close() end
  end
  for _, leave in ipairs { "close", "remove", "event", "free" } do eq(released[leave], nil, leave) end
  eq(sel:count(), 0)
end)

T.run()
