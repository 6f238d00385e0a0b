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
          if type(err) ~= "table" then wrong(item) end -- a netsocket error is a table
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

-- Watches sockets once each; wait() returns a list of events
-- {socket=, data=, timed_out=}.
local Selector = {}
Selector.__index = Selector

function M.Selector()
  return setmetatable({ core = core.SelectorCore(), watched = {}, keys = {}, next_key = 0 }, Selector)
end

function Selector:add(sock, timeout, data)
  local key = self.keys[sock]
  if not key then
    self.next_key = self.next_key + 1
    key = self.next_key
  end
  self.core:watch(sock, timeout or -1, key)
  self.watched[key] = { sock, data }
  self.keys[sock] = key
  return self
end

function Selector:remove(sock)
  self.core:unwatch(sock)
  self.watched[self.keys[sock]] = nil
  self.keys[sock] = nil
  return self
end

function Selector:wait(timeout)
  local events = {}
  for i = 0, self.core:poll(timeout or -1) - 1 do
    local key = self.core:event_key(i)
    local sock, data = table.unpack(self.watched[key])
    self.watched[key], self.keys[sock] = nil, nil
    events[#events + 1] = { socket = sock, data = data, timed_out = self.core:event_timed_out(i) }
  end
  for key, entry in pairs(self.watched) do -- closing a socket removes it
    if entry[1]:is_closed() then
      self.watched[key], self.keys[entry[1]] = nil, nil
    end
  end
  return events
end

function Selector:interrupt() self.core:interrupt() end
function Selector:count() return self.core:count() end
Selector.__len = Selector.count
function Selector:describe() return self.core:describe() end
function Selector:__tostring() return ("netsocket.Selector<%s>"):format(self:describe()) end

return M
