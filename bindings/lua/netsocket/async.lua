-- netsocket.async: netsocket sockets in coroutines that an event loop drives.
--
--   local async = require "netsocket.async"
--   local loop = async.cqueues()            -- or async.luv(require "luv")
--   local c = async.connect(loop, options, "localhost", 4433)  -- inside a coroutine of that loop
--   c:send_all("hello"); local reply = c:recv(100)
--
-- Each call runs non-blocking; when netsocket answers nil, "wantread" or
-- nil, "wantwrite", the coroutine waits on the socket's fd in that direction
-- through the loop (a TLS read may need to write), until the socket's read
-- timeout, then retries.  An async socket is also a cqueues pollable
-- (pollfd/events/timeout), and async.want(sock) is the plain "which fd,
-- which direction" answer for any other host loop.
local netsocket = require "netsocket"

local M = {}

local Async = {}
Async.__index = Async

-- A netsocket error table for a timeout the loop noticed.
local function timeout_error(what, us)
  return setmetatable({ status = "NS_ERR_READ_TIMEOUT", code = netsocket.NS_ERR_READ_TIMEOUT,
                        message = ("%s timed out after %d us"):format(what, us), os_error = 0 },
                      { __tostring = function(e) return e.message end })
end

-- Wraps a socket (made non-blocking) for coroutines run by `loop`.
function M.wrap(loop, sock)
  sock:set_non_blocking(true)
  return setmetatable({ loop = loop, socket = sock, want = nil, deadline = nil }, Async)
end

-- The "which fd, which direction" answer after a call returned nil, "wantread"
-- / "wantwrite" (err): the fd and "r" or "w".
function M.want(sock, err)
  return sock:fileno(), err == "wantwrite" and "w" or "r"
end

-- cqueues' pollable protocol: the fd, "r" or "w", seconds left (or nil).
function Async:pollfd() return self.socket:fileno() end
function Async:events() return self.want end
function Async:timeout()
  return self.deadline and math.max(0, self.deadline - self.loop.now()) or nil
end

-- Calls fn(socket, ...) until it stops answering wantread/wantwrite.
function Async:drive(what, timeout_us, fn, ...)
  local deadline = timeout_us >= 0 and self.loop.now() + timeout_us / 1e6 or nil
  while true do
    local r, err = fn(self.socket, ...)
    if r ~= nil or (err ~= "wantread" and err ~= "wantwrite") then return r, err end
    if deadline and self.loop.now() >= deadline then error(timeout_error(what, timeout_us), 2) end
    self.want, self.deadline = select(2, M.want(self.socket, err)), deadline
    self.loop.wait(self)
    self.want, self.deadline = nil, nil
  end
end

function Async:recv(size, flags)
  return self:drive("recv", self.socket.read_timeout, self.socket.recv, size, flags or 0)
end

function Async:send(data, flags)
  return self:drive("send", -1, self.socket.send, data, flags or 0)
end

-- Sends all of data (TLS: a send retried after "wantwrite" gets the same bytes).
function Async:send_all(data, flags)
  local sent = 0
  while sent < #data do
    sent = sent + self:send(data:sub(sent + 1), flags)
  end
  return sent
end

-- TLS handshake (nothing to do on plain sockets or once done).
function Async:handshake(timeout_us)
  if not self.socket:is_tls() then return true end
  return self:drive("TLS handshake", timeout_us or self.socket.read_timeout, function(s)
    local ok, err = s:handshake()
    if ok == nil and err then return nil, err end
    return true
  end)
end

-- The next connection, wrapped, TLS handshake done.
function Async:accept()
  local conn = self:drive("accept", -1, self.socket.accept)
  local wrapped = M.wrap(self.loop, conn)
  local ok, err = pcall(wrapped.handshake, wrapped)
  if not ok then
    conn:close()
    error(err, 0)
  end
  return wrapped
end

function Async:shutdown(how) return self.socket:shutdown(how) end

function Async:close()
  if self.loop.forget then self.loop.forget(self) end
  return self.socket:close()
end
Async.__close = Async.close

-- A connected client (TLS for TLS options, handshake done in the loop,
-- bounded by the options' connection timeout).  The TCP connect itself
-- runs in the constructor.
function M.connect(loop, options, node, service)
  local kind = options and options.kind or netsocket.NS_SOCKET_OPTIONS
  local opts = options and netsocket.Options(kind, options) or netsocket.Options(kind)
  local tls = opts:is_tls()
  opts:set_non_blocking(true)
  if tls then opts:set_handshake(false) end
  local c = M.wrap(loop, netsocket.socket_options_to_client_socket(opts, node, tostring(service)))
  if tls then
    local ok, err = pcall(c.handshake, c, opts.connection_timeout)
    if not ok then
      c:close()
      error(err, 0)
    end
  end
  return c
end

-- A listening socket, wrapped (TLS for server TLS options).
function M.listen(loop, options, node, service)
  local kind = options and options.kind or netsocket.NS_SOCKET_OPTIONS
  local opts = options and netsocket.Options(kind, options) or netsocket.Options(kind)
  opts:set_non_blocking(true)
  if opts:is_server_tls() then opts:set_handshake(false) end
  local make = opts:is_server_tls() and netsocket.make_server_tls_socket or netsocket.make_server_socket
  return M.wrap(loop, make(node, tostring(service), opts))
end

-- ---------------------------------------------------------------- loops

-- lua-cqueues: coroutines run by a cqueue (cq:wrap); an async socket is
-- handed to cqueues.poll as it is.
function M.cqueues()
  local cqueues = require "cqueues"
  return {
    now = cqueues.monotime,
    wait = function(a) cqueues.poll(a) end,
    -- cqueues keeps the fd registered: cancel before it closes.
    forget = function(a) cqueues.cancel(a:pollfd()) end,
  }
end

-- lua-luv (libuv): coroutines the caller resumes; a wait parks the
-- coroutine on a uv poll handle for the fd (one per socket, as libuv
-- requires) and a timer for the deadline, and the loop resumes it.
function M.luv(uv)
  local loop = {}
  local polls = setmetatable({}, { __mode = "k" }) -- async socket -> uv_poll_t

  function loop.now() return uv.hrtime() / 1e9 end

  function loop.wait(a)
    local co = assert(coroutine.running(), "netsocket.async.luv: wait outside a coroutine")
    local poll = polls[a]
    if not poll then
      poll = uv.new_poll(a:pollfd())
      polls[a] = poll
    end
    local timer, woken
    local function wake()
      if woken then return end -- the poll and the timer in one loop turn
      woken = true
      poll:stop()
      if timer then
        timer:stop()
        timer:close()
        timer = nil
      end
      assert(coroutine.resume(co))
    end
    poll:start(a.want, wake)
    local left = a:timeout()
    if left then
      timer = uv.new_timer()
      timer:start(math.ceil(left * 1000), 0, wake)
    end
    coroutine.yield()
  end

  -- The poll handle must go before the fd closes.
  function loop.forget(a)
    local poll = polls[a]
    if poll then
      polls[a] = nil
      poll:stop()
      poll:close()
    end
  end

  -- Runs fn(...) as a coroutine of this loop (errors are raised by uv.run).
  function loop.spawn(fn, ...)
    assert(coroutine.resume(coroutine.create(fn), ...))
  end

  return loop
end

return M
