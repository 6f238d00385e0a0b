-- netsocket for Lua 5.4: the SWIG module ("netsocket-core", whose entry
-- point is luaopen_netsocket by Lua's hyphen rule) plus the Lua idioms:
-- builders taking one table, __close on sockets, an event-returning selector.
local core = require "netsocket-core"
local M = core -- extended in place

-- SWIG's runtime defines two global helpers; keep them off _G.
M.swig_type, M.swig_equals = rawget(_G, "swig_type"), rawget(_G, "swig_equals")
_G.swig_type, _G.swig_equals = nil, nil

-- The option fields, from the one table in option_fields.i:
-- field -> {field=, method=, kinds=, kinds_text=, type_text=, list=}.
local fields_by_name, field_names = {}, {}
for _, row in ipairs(core.option_fields()) do
  fields_by_name[row.field] = row
  field_names[#field_names + 1] = row.field
end

-- Options of `kind` from a table of fields: each field's method (from the
-- table) is called with the value, or once per item of a list field;
-- `from` copies options.
local function build(builder, kind, fields)
  fields = fields or {}
  local options = fields.from and core.Options(kind, fields.from) or core.Options(kind)
  for name, value in pairs(fields) do
    if name ~= "from" then
      local row = fields_by_name[name]
      if not row then
        error(("netsocket.%s: no option field %s (the fields: %s)"):format(builder, tostring(name),
          table.concat(field_names, ", ")), 3)
      end
      local function wrong(v)
        error(("netsocket.%s: %s takes %s, not %s"):format(builder, name, row.type_text, type(v)), 4)
      end
      if row.list ~= (type(value) == "table") then wrong(value) end
      for _, item in ipairs(row.list and value or { value }) do
        local ok, err = pcall(options[row.method], options, item)
        if not ok then
          -- A netsocket error is a table; the binding's value checks (NSB_VALUE_ERROR:
          -- "a timeout is ...") are strings that say more than "takes ...".
          if type(err) == "string" and err:find("^a ") then
            error(("netsocket.%s: %s: %s"):format(builder, name, err), 3)
          end
          if type(err) ~= "table" then wrong(item) end
          error(err, 3)
        end
      end
    end
  end
  return options
end

function M.socket_options(fields) return build("socket_options", core.NS_SOCKET_OPTIONS, fields) end
function M.tls_socket_options(fields) return build("tls_socket_options", core.NS_TLS_SOCKET_OPTIONS, fields) end
function M.server_tls_socket_options(fields)
  return build("server_tls_socket_options", core.NS_SERVER_TLS_SOCKET_OPTIONS, fields)
end

-- `local s <close> = netsocket.make_client_socket(...)` closes at scope end;
-- SWIG's __gc frees the handle (closing first if still open).
local classes = debug.getregistry().SWIG
rawset(classes.Socket, "__close", function(sock) sock:close() end)
-- tostring() describes the object, never a SWIG type and pointer.
for name, class in pairs { Options = classes.Options, Socket = classes.Socket, SelectorCore = classes.SelectorCore } do
  rawset(class, "__tostring", function(self) return ("netsocket.%s<%s>"):format(name, self:describe()) end)
end

-- add() watches a socket once (readable or timed out); watch() until it is
-- removed or closed, for reading and/or writing (NS_WANT_READ |
-- NS_WANT_WRITE).  wait() returns a list of events {socket=, data=,
-- timed_out=, ready=}.  The C selector owns each socket's {socket, data},
-- so a wait costs O(ready), whatever the number watched.
local Selector = {}
Selector.__index = Selector

function M.Selector()
  return setmetatable({ core = core.SelectorCore() }, Selector)
end

function Selector:add(sock, timeout, data)
  self.core:watch(sock, core.NS_WANT_READ, timeout or -1, { sock, data, true })
  return self
end

function Selector:watch(sock, interest, timeout, data)
  self.core:watch(sock, interest or core.NS_WANT_READ, timeout or -1, { sock, data, false })
  return self
end

function Selector:remove(sock)
  self.core:unwatch(sock)
  return self
end

function Selector:wait(timeout)
  local events, once = {}, {}
  for i = 0, self.core:poll(timeout or -1) - 1 do
    local value = self.core:event_value(i)
    events[#events + 1] = { socket = value[1], data = value[2], timed_out = self.core:event_timed_out(i),
                            ready = self.core:event_ready(i) }
    if value[3] then once[#once + 1] = value[1] end
  end
  for _, sock in ipairs(once) do self.core:unwatch(sock) end -- after reading the events
  return events
end

function Selector:interrupt() self.core:interrupt() end
function Selector:count() return self.core:count() end
Selector.__len = Selector.count
function Selector:describe() return self.core:describe() end
function Selector:__tostring() return ("netsocket.Selector<%s>"):format(self:describe()) end

return M
