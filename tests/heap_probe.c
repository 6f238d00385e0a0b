/* Test-only: the C heap in use (glibc's mallinfo2, every arena), for the
 * bindings' leak tests, which must see a leak of 100 bytes per cycle.
 * ns_test_heap_in_use is called through ctypes (Python) and Fiddle (Ruby);
 * built with Lua's headers, this is also the Lua module ns_heap_probe. */
#include <malloc.h>
#include <stddef.h>

__attribute__((visibility("default"))) size_t ns_test_heap_in_use(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd; /* allocated chunks + mmap'd blocks */
}

#ifdef NS_HEAP_PROBE_LUA
#include <lua.h>

static int in_use(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)ns_test_heap_in_use());
    return 1;
}

__attribute__((visibility("default"))) int luaopen_ns_heap_probe(lua_State *L)
{
    lua_newtable(L);
    lua_pushcfunction(L, in_use);
    lua_setfield(L, -2, "in_use");
    return 1;
}
#endif
