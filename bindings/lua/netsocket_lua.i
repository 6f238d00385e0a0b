/* Lua runtime for netsocket.i: the verifier trampoline (called on the Lua
 * thread making the call, errors caught), error tables, and typemaps for
 * the glue types.  Builders, <close> and the selector are in netsocket.lua. */

%{
#define NSB_FREED(what) do { lua_pushstring(L, "netsocket: this " what " was freed"); SWIG_fail; } while (0)
#define NSB_VALUE_ERROR(msg) do { lua_pushstring(L, msg); SWIG_fail; } while (0)

/* __gc of the three classes, replacing SWIG's: frees the handle once and
 * clears the userdata, so a hand-made call (getmetatable(o).__gc(o)) and
 * the collector's later one do not free twice, and any later use raises
 * (NSB_FREED).  SWIG's own __gc would call the destructor every time. */
#define NSB_LUA_GC(name, type, free_fn)                                            \
    static int name(lua_State *L)                                                 \
    {                                                                             \
        void *p = NULL;                                                           \
        swig_lua_userdata *usr;                                                   \
        if (!lua_isuserdata(L, 1) || !SWIG_IsOK(SWIG_ConvertPtr(L, 1, &p, type, 0))) \
            return luaL_argerror(L, 1, "a netsocket handle expected");          \
        usr = (swig_lua_userdata *)lua_touserdata(L, 1);                          \
        if (usr->own && usr->ptr) {                                               \
            usr->own = 0;                                                         \
            usr->ptr = NULL;                                                      \
            free_fn(p);                                                           \
        }                                                                         \
        return 0;                                                                 \
    }
NSB_LUA_GC(nsb_lua_gc_options, SWIGTYPE_p_nsb_options, ns_options_free)
NSB_LUA_GC(nsb_lua_gc_socket, SWIGTYPE_p_nsb_socket, ns_socket_free)
NSB_LUA_GC(nsb_lua_gc_selector, SWIGTYPE_p_nsb_selector, ns_selector_free)

/* The Lua thread making the current call (the verifier runs on it). */
static __thread lua_State *nsb_lua_current;

static void nsb_unlocked(nsb_call *c)
{
    nsb_run(c);
}

typedef struct { lua_State *main; int ref; } nsb_lua_box;

static int nsb_verify(void *userdata, int depth, int preverify_error,
                      const unsigned char *der, size_t der_len)
{
    nsb_lua_box *b = (nsb_lua_box *)userdata;
    lua_State *L = nsb_lua_current ? nsb_lua_current : b->main;
    int top = lua_gettop(L), ok = 0;
    if (!lua_checkstack(L, 5))
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, b->ref);
    lua_pushinteger(L, depth);
    lua_pushinteger(L, preverify_error);
    lua_pushlstring(L, (const char *)der, der_len);
    if (lua_pcall(L, 3, 1, 0) != LUA_OK) { /* an error in the verifier rejects */
        nsb_note_verifier_raised(lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "a non-string error");
    } else if (lua_isboolean(L, -1)) {
        ok = lua_toboolean(L, -1);
    } else { /* only a boolean decides (0 is true in Lua): anything else rejects */
        luaL_tolstring(L, -1, NULL);
        nsb_note_verifier_returned(lua_pushfstring(L, "%s (a %s)", lua_tostring(L, -1), luaL_typename(L, -2)),
                                   "a boolean");
    }
    lua_settop(L, top);
    return ok;
}

/* A registry reference to the value at idx, released by nsb_release. */
static nsb_lua_box *nsb_lua_box_new(lua_State *L, int idx)
{
    nsb_lua_box *b = (nsb_lua_box *)malloc(sizeof *b);
    if (b == NULL)
        luaL_error(L, "netsocket: out of memory");
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    b->main = lua_tothread(L, -1);
    lua_pop(L, 1);
    lua_pushvalue(L, idx);
    b->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return b;
}

static void nsb_key_log(void *userdata, const char *line)
{
    nsb_lua_box *b = (nsb_lua_box *)userdata;
    lua_State *L = nsb_lua_current ? nsb_lua_current : b->main;
    int top = lua_gettop(L);
    if (!lua_checkstack(L, 3))
        return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, b->ref);
    lua_pushstring(L, line);
    lua_pcall(L, 1, 0, 0);
    lua_settop(L, top);
}

static void nsb_release(void *userdata)
{
    nsb_lua_box *b = (nsb_lua_box *)userdata;
    luaL_unref(b->main, LUA_REGISTRYINDEX, b->ref);
    free(b);
}

static int nsb_lua_error_tostring(lua_State *L)
{
    lua_getfield(L, 1, "message");
    return 1;
}

/* Pushes {status=, message=, code=, os_error=, verify_code=, verify_message=,
 * alert=, alert_code=, alert_sent=} with a __tostring. */
static void nsb_lua_push_error(lua_State *L)
{
    int st = nsb_err.status;
    nsb_err.status = 0;
    lua_createtable(L, 0, 4);
    lua_pushstring(L, ns_status_name(st)); lua_setfield(L, -2, "status");
    lua_pushstring(L, nsb_err.message);    lua_setfield(L, -2, "message");
    lua_pushinteger(L, st);                lua_setfield(L, -2, "code");
    lua_pushinteger(L, nsb_err.os_error);  lua_setfield(L, -2, "os_error");
    if (nsb_err.verify_code) { /* a TLS failure's details: absent (nil) when none */
        lua_pushinteger(L, nsb_err.verify_code);   lua_setfield(L, -2, "verify_code");
        lua_pushstring(L, nsb_err.verify_message); lua_setfield(L, -2, "verify_message");
    }
    if (nsb_err.alert >= 0) {
        lua_pushstring(L, ns_tls_alert_name(nsb_err.alert)); lua_setfield(L, -2, "alert");
        lua_pushinteger(L, nsb_err.alert);                   lua_setfield(L, -2, "alert_code");
        lua_pushboolean(L, nsb_err.alert_sent);              lua_setfield(L, -2, "alert_sent");
    }
    if (luaL_newmetatable(L, "netsocket.Error")) {
        lua_pushcfunction(L, nsb_lua_error_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_setmetatable(L, -2);
}
%}

/* SWIG's argument errors, reworded (netsocket_argerrors.i); methods are
 * called with `:`, so self is SWIG's argument 1. */
%{
static void nsb_lua_arg_error(lua_State *L, const char *swig_name, int argn, const char *ctype)
{
    char method[128], text[320];
    int is_method;
    nsb_arg_method_name(method, sizeof method, NSB_LUA, swig_name, &is_method);
    nsb_arg_error_text(text, sizeof text, NSB_LUA, method, argn - is_method, ctype, luaL_typename(L, argn));
    lua_pushstring(L, text);
}
static void nsb_lua_arg_count_error(lua_State *L, const char *swig_name, int least, int most)
{
    char method[128];
    int is_method;
    nsb_arg_method_name(method, sizeof method, NSB_LUA, swig_name, &is_method);
    lua_pushfstring(L, least == most ? "%s: expects %d argument(s), got %d" : "%s: expects %d to %d arguments, got %d",
                    method, least - is_method, least == most ? lua_gettop(L) - is_method : most - is_method,
                    lua_gettop(L) - is_method);
}
#undef SWIG_fail_arg
#define SWIG_fail_arg(func_name, argnum, type) { nsb_lua_arg_error(L, func_name, argnum, type); goto fail; }
#undef SWIG_check_num_args
#define SWIG_check_num_args(func_name, a, b) \
    if (lua_gettop(L) < (a) || lua_gettop(L) > (b)) { nsb_lua_arg_count_error(L, func_name, a, b); goto fail; }
%}

%exception {
    lua_State *nsb_caller = nsb_lua_current;
    nsb_err.status = 0;
    nsb_err.verifier_raised[0] = '\0';
    nsb_lua_current = L;
    $action
    nsb_lua_current = nsb_caller;
    if (nsb_err.status == NS_ERR_WOULD_BLOCK) { /* LuaSec's convention */
        nsb_err.status = 0;
        lua_pushnil(L);
        lua_pushstring(L, nsb_err.want == NS_WANT_WRITE ? "wantwrite" : "wantread");
        return 2;
    }
    if (nsb_err.status) { nsb_lua_push_error(L); SWIG_fail; }
}

%typemap(in, checkfn="lua_isstring") (const void *data, size_t LEN), (const void *pem, size_t LEN),
    (const void *chain, size_t LEN), (const void *key, size_t KEYLEN), (const void *config, size_t CONFLEN) {
    $1 = (void *)lua_tolstring(L, $input, &$2);
}
%typemap(typecheck) (const void *data, size_t LEN), (const void *pem, size_t LEN) { $1 = lua_isstring(L, $input); }
/* A password: a string, a function returning one (called now, when the
 * key is loaded; its result stays on the stack for the call), or nil. */
%typemap(in, checkfn="nsb_lua_is_password") (const void *password, size_t PWLEN) {
    int at = $input;
    if (lua_isfunction(L, at)) {
        lua_pushvalue(L, at);
        lua_call(L, 0, 1);
        at = lua_gettop(L);
    }
    if (lua_isnil(L, at)) {
        $1 = NULL;
        $2 = 0;
    } else {
        $1 = (void *)luaL_checklstring(L, at, &$2);
    }
}
%{
static int nsb_lua_is_password(lua_State *L, int i)
{
    return lua_isnoneornil(L, i) || lua_isstring(L, i) || lua_isfunction(L, i);
}
%}
/* Integers stay Lua integers (SWIG's default pushes floats). */
%typemap(out) int, long, unsigned, unsigned int, size_t, int64_t { lua_pushinteger(L, (lua_Integer)$1); SWIG_arg++; }
%typemap(out) nsb_bytes {
    if ($1.none) lua_pushnil(L); else lua_pushlstring(L, (const char *)$1.data, $1.len);
    free($1.data);
    SWIG_arg++;
}
%typemap(out) nsb_list {
    lua_createtable(L, (int)$1.n, 0);
    for (size_t i = 0; i < $1.n; i++) {
        lua_pushlstring(L, (const char *)$1.items[i], $1.lens[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    free($1.items);
    free($1.lens);
    SWIG_arg++;
}
%typemap(out) nsb_addr { lua_pushstring(L, $1.ip); lua_pushinteger(L, $1.port); SWIG_arg += 2; }
%typemap(in) nsb_callable {
    if (lua_isnoneornil(L, $input)) {
        $1 = NULL;
    } else {
        luaL_checktype(L, $input, LUA_TFUNCTION);
        $1 = nsb_lua_box_new(L, $input);
    }
}
%typemap(in) nsb_value { $1 = nsb_lua_box_new(L, $input); }
%typemap(out) nsb_callable, nsb_value {
    if ($1) lua_rawgeti(L, LUA_REGISTRYINDEX, ((nsb_lua_box *)$1)->ref); else lua_pushnil(L);
    SWIG_arg++;
}
%typemap(in) int on { $1 = lua_isnumber(L, $input) ? lua_tonumber(L, $input) != 0 : lua_toboolean(L, $input); }
%typemap(typecheck, precedence=SWIG_TYPECHECK_BOOL) int on { $1 = 1; }
%typemap(in) const char *service {
    size_t n = 0;
    $1 = (char *)luaL_checklstring(L, $input, &n);
    if (strlen($1) != n) NSB_VALUE_ERROR(NSB_NUL_MESSAGE);
}
/* Other strings (nil = NULL), whole: see NSB_NUL_MESSAGE in netsocket.i. */
%typemap(in, checkfn="SWIG_lua_isnilstring") const char * {
    size_t n = 0;
    $1 = lua_isnil(L, $input) ? NULL : (char *)lua_tolstring(L, $input, &n);
    if ($1 && strlen($1) != n) NSB_VALUE_ERROR(NSB_NUL_MESSAGE);
}
/* A timeout is a Lua integer: 1.5 would otherwise be cut to 1. */
%typemap(in, checkfn="lua_isnumber") int64_t us {
    if (!lua_isinteger(L, $input)) NSB_VALUE_ERROR("a timeout is an integer number of microseconds");
    $1 = (int64_t)lua_tointeger(L, $input);
}
%typemap(typecheck, precedence=SWIG_TYPECHECK_STRING) const char *service { $1 = lua_isstring(L, $input); }
%typemap(in) const nsb_options *obj {
    if (!SWIG_IsOK(SWIG_ConvertPtr(L, $input, (void **)&$1, $descriptor(nsb_options *), 0))) $1 = NULL;
}
/* option_fields(): a list of {field=, method=, kinds=, kinds_text=, type_text=, list=}. */
%typemap(out) nsb_fields {
    lua_createtable(L, (int)$1.n, 0);
    for (size_t i = 0; i < $1.n; i++) {
        const nsb_field *f = &$1.rows[i];
        lua_createtable(L, 0, 6);
        lua_pushstring(L, f->field);      lua_setfield(L, -2, "field");
        lua_pushstring(L, f->method);     lua_setfield(L, -2, "method");
        lua_pushinteger(L, f->kinds);     lua_setfield(L, -2, "kinds");
        lua_pushstring(L, f->kinds_text); lua_setfield(L, -2, "kinds_text");
        lua_pushstring(L, f->type_text);  lua_setfield(L, -2, "type_text");
        lua_pushboolean(L, f->is_list);   lua_setfield(L, -2, "list");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    SWIG_arg++;
}

%init %{
{
    static const struct { const char *cls; lua_CFunction gc; } gcs[] = {
        { "Options", nsb_lua_gc_options },
        { "Socket", nsb_lua_gc_socket },
        { "SelectorCore", nsb_lua_gc_selector },
    };
    SWIG_Lua_get_class_registry(L);
    for (size_t i = 0; i < sizeof gcs / sizeof gcs[0]; i++) {
        lua_getfield(L, -1, gcs[i].cls);
        if (lua_istable(L, -1)) {
            lua_pushcfunction(L, gcs[i].gc);
            lua_setfield(L, -2, "__gc");
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}
%}
