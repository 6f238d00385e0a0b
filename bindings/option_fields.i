/*
 * option_fields.i — the options' fields, described ONCE for every language
 * (included by netsocket.i).
 *
 * NSB_OPTION_FIELDS below is the one table.  From it come, per field:
 *  - the Options method that sets it (set_<field> for one value, add_<item>
 *    for each item of a list, clear_<field> for lists that have one);
 *  - the read-only view of its value (where the C API has a getter);
 *  - a row of option_fields(), the data the keyword builders loop over
 *    (Python netsocket_python.i, Ruby lib/netsocket.rb, Lua netsocket.lua):
 *    (field, method, kinds, kinds described, type described, is a list).
 *
 * TO ADD AN OPTION FIELD: write its C setter/getter in core (following the
 * names of its type below: ns_options_set_<item> / ns_options_get_<item>, or
 * for a list ns_options_add_<item> / ns_options_clear_<field> /
 * ns_options_<item>_count / ns_options_get_<item>), then add ONE row here.
 * Nothing else: no binding file names a field.
 *
 * A row is X(field, item, kinds, type):
 *   field  the builder's keyword and the name of the read-only view;
 *   item   the C API's name for it (a list's name for one item);
 *   kinds  ALL (every options kind), TLS (both TLS kinds), SERVER (server TLS),
 *          CLIENT (client TLS);
 *   type   INT, BOOL, MICROSECONDS, KEY, PATH, STRING, BYTES, VERIFIER, KEY_LOG (one value), or
 *          CERTIFICATE_LIST, STRING_LIST, PATH_LIST, BYTES_LIST (a list; the
 *          last two are only added to).
 */

%define NSB_OPTION_FIELDS(X)
X(ai_family,                   ai_family,                   ALL,    INT)
X(ai_socktype,                 ai_socktype,                 ALL,    INT)
X(ai_flags,                    ai_flags,                    ALL,    INT)
X(ai_protocol,                 ai_protocol,                 ALL,    INT)
X(non_blocking,                non_blocking,                ALL,    BOOL)
X(connection_timeout,          connection_timeout,          ALL,    MICROSECONDS)
X(read_timeout,                read_timeout,                ALL,    MICROSECONDS)
X(handshake,                   handshake,                   TLS,    BOOL)
X(private_key,                 private_key,                 TLS,    KEY)
X(private_key_file,            private_key_file,            TLS,    PATH)
X(certificates,                certificate,                 TLS,    CERTIFICATE_LIST)
X(certificate_files,           certificate_file,            TLS,    PATH_LIST)
X(certificate_verifier,        certificate_verifier,        TLS,    VERIFIER)
X(sni,                         sni,                         CLIENT, STRING_LIST)
X(alpn,                        alpn,                        TLS,    STRING_LIST)
X(trusted_certificates,        trusted_certificate,         TLS,    CERTIFICATE_LIST)
X(trusted_certificate_files,   trusted_certificate_file,    TLS,    PATH_LIST)
X(client_certificate_required, client_certificate_required, SERVER, BOOL)
X(ignore_unexpected_eof,       ignore_unexpected_eof,       TLS,    BOOL)
X(key_log_file,                key_log_file,                TLS,    STRING)
X(key_log_callback,            key_log_callback,            TLS,    KEY_LOG)
X(ech_config_list,             ech_config_list,             TLS,    BYTES)
X(ech_grease,                  ech_grease,                  TLS,    BOOL)
X(session_resumption,          session_resumption,          TLS,    BOOL)
X(sessions,                    session,                     TLS,    BYTES_LIST)
%enddef

%{
/* The kinds a field belongs to, as a bit per ns_options_kind. */
#define NSB_KINDS_SERVER (1u << NS_SERVER_TLS_SOCKET_OPTIONS)
#define NSB_KINDS_CLIENT (1u << NS_TLS_SOCKET_OPTIONS)
#define NSB_KINDS_TLS (NSB_KINDS_SERVER | (1u << NS_TLS_SOCKET_OPTIONS))
#define NSB_KINDS_ALL (NSB_KINDS_TLS | (1u << NS_SOCKET_OPTIONS))
#define NSB_KINDS_TEXT_SERVER "server TLS options"
#define NSB_KINDS_TEXT_CLIENT "client TLS options"
#define NSB_KINDS_TEXT_TLS "TLS options"
#define NSB_KINDS_TEXT_ALL "every kind of options"

/* What each type takes, for messages; and whether it is a list. */
#define NSB_TYPE_INT "an integer", 0
#define NSB_TYPE_BOOL "a boolean", 0
#define NSB_TYPE_MICROSECONDS "an integer (microseconds, -1 = no limit)", 0
#define NSB_TYPE_KEY "a PEM or DER string", 0
#define NSB_TYPE_PATH "a file name", 0
#define NSB_TYPE_STRING "a string, or nothing to remove it", 0
#define NSB_TYPE_BYTES "a byte string", 0
#define NSB_TYPE_KEY_LOG "a callable (line) or nothing", 0
#define NSB_TYPE_VERIFIER "a callable (depth, preverify_error, der) or nothing", 0
#define NSB_TYPE_CERTIFICATE_LIST "a list of PEM or DER strings", 1
#define NSB_TYPE_STRING_LIST "a list of strings", 1
#define NSB_TYPE_PATH_LIST "a list of file names", 1
#define NSB_TYPE_BYTES_LIST "a list of byte strings", 1

/* One row of option_fields(). */
typedef struct {
    const char *field, *method;
    unsigned kinds;
    const char *kinds_text, *type_text;
    int is_list;
} nsb_field;
/* The whole table (option_fields() returns it). */
typedef struct { const nsb_field *rows; size_t n; } nsb_fields;
%}

/* ---- per type: the Options methods, and the view where there is a getter ---- */

%define NSB_SCALAR_VIEW(field, item, type, cast)
%{ static type nsb_options_##field##_get(nsb_options *o) { return cast(ns_options_get_##item(o)); } %}
%extend nsb_options { %immutable; type field; %mutable; }
%enddef

%define NSB_FIELD_INT(field, item)
NSB_SCALAR_VIEW(field, item, int, (int))
%extend nsb_options { void set_##field(int value) { nsb_check(ns_options_set_##item($self, value)); } }
%enddef

%define NSB_FIELD_BOOL(field, item)
NSB_SCALAR_VIEW(field, item, bool, 0 !=)
%extend nsb_options { void set_##field(int on) { nsb_check(ns_options_set_##item($self, on)); } }
%enddef

%define NSB_FIELD_MICROSECONDS(field, item)
NSB_SCALAR_VIEW(field, item, int64_t, (int64_t))
%extend nsb_options { void set_##field(int64_t us) { nsb_check(ns_options_set_##item($self, us)); } }
%enddef

/* Key material is never read back: the view says whether one is set. */
%define NSB_FIELD_KEY(field, item)
%{ static bool nsb_options_has_##field##_get(nsb_options *o) { return ns_options_has_##item(o) != 0; } %}
%extend nsb_options {
    %immutable; bool has_##field; %mutable;
    void set_##field(const void *pem, size_t LEN) { nsb_check(ns_options_set_##item($self, pem, LEN)); }
}
%enddef

%define NSB_FIELD_PATH(field, item)
%extend nsb_options { void set_##field(const char *path) { nsb_check(ns_options_set_##item($self, path)); } }
%enddef

/* A string with a view (NULL: none). */
%define NSB_FIELD_STRING(field, item)
%{ static const char *nsb_options_##field##_get(nsb_options *o) { return ns_options_get_##item(o); } %}
%extend nsb_options {
    %immutable; const char *field; %mutable;
    void set_##field(const char *value = NULL) { NSB_REPLACING($self, ns_options_set_##item($self, value)); }
}
%enddef

/* Bytes with a view (None/nil when unset). */
%define NSB_FIELD_BYTES(field, item)
%{
static nsb_bytes nsb_options_##field##_get(nsb_options *o)
{
    size_t len = 0;
    const unsigned char *p = ns_options_get_##item(o, &len);
    return nsb_bytes_copy(p, len);
}
%}
%extend nsb_options {
    %immutable; nsb_bytes field; %mutable;
    void set_##field(const void *data, size_t LEN) { nsb_check(ns_options_set_##item($self, data, LEN)); }
}
%enddef

/* A callable taking each key log line; None/nil removes it. */
%define NSB_FIELD_KEY_LOG(field, item)
%{
static nsb_callable nsb_options_##field##_get(nsb_options *o)
{
    void *userdata = NULL;
    return ns_options_get_##item(o, &userdata) == nsb_key_log ? userdata : NULL;
}
%}
%extend nsb_options {
    %immutable; nsb_callable field; %mutable;
    void set_##field(nsb_callable fn) {
        NSB_REPLACING($self, ns_options_set_##item($self, fn ? nsb_key_log : NULL, fn, fn ? nsb_release : NULL));
    }
}
%enddef

/* A callable (depth, preverify_error, der) -> truthy to accept; None/nil removes. */
%define NSB_FIELD_VERIFIER(field, item)
%{
static nsb_callable nsb_options_##field##_get(nsb_options *o)
{
    void *userdata = NULL;
    return ns_options_get_##item(o, &userdata) == nsb_verify ? userdata : NULL;
}
%}
%extend nsb_options {
    %immutable; nsb_callable field; %mutable;
    void set_##field(nsb_callable fn) {
        NSB_REPLACING($self, fn ? ns_options_set_##item##_owned($self, nsb_verify, fn, nsb_release)
                                : ns_options_set_##item($self, NULL, NULL));
    }
}
%enddef

%define NSB_FIELD_CERTIFICATE_LIST(field, item)
%{
static nsb_list nsb_options_##field##_get(nsb_options *o)
{
    nsb_list l = nsb_list_new(ns_options_##item##_count(o), 0);
    for (size_t i = 0; i < l.n; i++)
        l.items[i] = ns_options_get_##item(o, i, &l.lens[i]);
    return l;
}
%}
%extend nsb_options {
    %immutable; nsb_list field; %mutable;
    void add_##item(const void *pem, size_t LEN) { nsb_check(ns_options_add_##item($self, pem, LEN)); }
    void clear_##field() { nsb_check(ns_options_clear_##field($self)); }
}
%enddef

%define NSB_FIELD_STRING_LIST(field, item)
%{
static nsb_list nsb_options_##field##_get(nsb_options *o)
{
    nsb_list l = nsb_list_new(ns_options_##item##_count(o), 1);
    for (size_t i = 0; i < l.n; i++) {
        l.items[i] = (const unsigned char *)ns_options_get_##item(o, i);
        l.lens[i] = strlen((const char *)l.items[i]);
    }
    return l;
}
%}
%extend nsb_options {
    %immutable; nsb_list field; %mutable;
    void add_##item(const char *name) { nsb_check(ns_options_add_##item($self, name)); }
    void clear_##field() { nsb_check(ns_options_clear_##field($self)); }
}
%enddef

%define NSB_FIELD_PATH_LIST(field, item)
%extend nsb_options { void add_##item(const char *path) { nsb_check(ns_options_add_##item($self, path)); } }
%enddef

%define NSB_FIELD_BYTES_LIST(field, item)
%extend nsb_options { void add_##item(const void *data, size_t LEN) { nsb_check(ns_options_add_##item($self, data, LEN)); } }
%enddef

%define NSB_FIELD_METHODS(field, item, kinds, type) NSB_FIELD_##type(field, item) %enddef
NSB_OPTION_FIELDS(NSB_FIELD_METHODS)

/* ---- the table as data ---- */

%define NSB_FIELD_ROW(field, item, kinds, type)
%wrapper %{ { #field, NSB_METHOD_##type(field, item), NSB_KINDS_##kinds, NSB_KINDS_TEXT_##kinds, NSB_TYPE_##type }, %}
%enddef
%{
#define NSB_SETTER(field, item) "set_" #field
#define NSB_ADDER(field, item) "add_" #item
#define NSB_METHOD_INT NSB_SETTER
#define NSB_METHOD_BOOL NSB_SETTER
#define NSB_METHOD_MICROSECONDS NSB_SETTER
#define NSB_METHOD_KEY NSB_SETTER
#define NSB_METHOD_PATH NSB_SETTER
#define NSB_METHOD_STRING NSB_SETTER
#define NSB_METHOD_BYTES NSB_SETTER
#define NSB_METHOD_KEY_LOG NSB_SETTER
#define NSB_METHOD_VERIFIER NSB_SETTER
#define NSB_METHOD_CERTIFICATE_LIST NSB_ADDER
#define NSB_METHOD_STRING_LIST NSB_ADDER
#define NSB_METHOD_PATH_LIST NSB_ADDER
#define NSB_METHOD_BYTES_LIST NSB_ADDER
%}
%wrapper %{
static const nsb_field nsb_field_rows[] = {
%}
NSB_OPTION_FIELDS(NSB_FIELD_ROW)
%wrapper %{
};
static nsb_fields nsb_option_fields(void)
{
    nsb_fields t = { nsb_field_rows, sizeof nsb_field_rows / sizeof nsb_field_rows[0] };
    return t;
}
%}
/* option_fields(): the table, for the builders: one (field, method, kinds,
 * kinds described, type described, is a list) per row. */
nsb_fields nsb_option_fields(void);
