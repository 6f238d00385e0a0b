-- Lua packaging for netsocket (no network needed), from bindings/lua:
--   luarocks --lua-version=5.4 make netsocket-*.rockspec NETSOCKET_DIR=/usr/local
-- with the C library where `cmake --install` put it (the module's rpath is
-- PREFIX/lib); NETSOCKET_INCDIR / NETSOCKET_LIBDIR point at a source tree's
-- core/include and build/ instead.  SWIG generates the module from
-- ../netsocket.i; it is installed as netsocket-core.so next to netsocket.lua.
package = "netsocket"
version = "1.1.0-1"
source = { url = "git+file://." }
description = {
  summary = "Plain TCP and TLS sockets (BoringSSL inside libnetsocket) for Lua 5.4",
  license = "See the netsocket source tree",
}
dependencies = { "lua >= 5.4, < 5.5" }
external_dependencies = {
  NETSOCKET = { header = "netsocket.h", library = "netsocket" },
}
build = {
  type = "command",
  build_command = "swig -lua -nomoduleglobal -I$(NETSOCKET_INCDIR) -I.. -o netsocket_wrap.c ../netsocket.i"
    .. " && $(CC) $(CFLAGS) -Wno-unused-function -I$(LUA_INCDIR) -I$(NETSOCKET_INCDIR) $(LIBFLAG)"
    .. " -o netsocket-core.so netsocket_wrap.c -L$(NETSOCKET_LIBDIR) -Wl,-rpath,$(NETSOCKET_LIBDIR) -lnetsocket",
  install = {
    lua = { netsocket = "netsocket.lua", ["netsocket.async"] = "netsocket/async.lua" },
    lib = { ["netsocket-core"] = "netsocket-core.so" },
  },
}
