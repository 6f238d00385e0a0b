/*
 * netsocket.i — the one SWIG interface for the Python 3, Ruby and Lua 5.4
 * modules `netsocket` (see docs/reference.md, Bindings).
 *
 * Layout: a language-neutral glue layer (nsb_*) that calls the C API, turns
 * failures into a per-thread "pending error" and describes blocking calls so
 * they can run without the interpreter lock; the declarations every
 * language shares (constants, module functions, Options, Socket,
 * SelectorCore).  Per language, only what that language needs is included
 * from beside this file: python/netsocket_python_runtime.i,
 * ruby/netsocket_ruby.i and lua/netsocket_lua.i (releasing the lock, the
 * verifier trampoline, raising errors, byte/list/address typemaps), and the
 * idioms on top (keyword builders, context managers, block forms, <close>,
 * an event-returning Selector) in python/netsocket_python.i,
 * ruby/lib/netsocket.rb and lua/netsocket.lua.
 */
%module(package="netsocket", docstring="Plain TCP and TLS sockets (BoringSSL inside libnetsocket): options objects, sockets, a selector.") netsocket

%{
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include "netsocket.h"

/* SWIG-visible names of the handle types: %extend names its functions
 * <type>_<method>, which must not collide with the C API's ns_* names. */
typedef struct ns_options nsb_options;
typedef struct ns_socket nsb_socket;
typedef struct ns_selector nsb_selector;

/* A byte string handed to a language (malloc'ed, freed by the out typemap);
 * none = the language's None/nil (e.g. recv on a non-blocking socket with
 * nothing to read). */
typedef struct { unsigned char *data; size_t len; int none; } nsb_bytes;
/* Bytes owned by the library, copied for a language (None/nil if absent). */
static nsb_bytes nsb_bytes_copy(const unsigned char *p, size_t len)
{
    nsb_bytes b = { NULL, 0, p == NULL };
    if (p != NULL && (b.data = (unsigned char *)malloc(len ? len : 1)) != NULL) {
        memcpy(b.data, p, len);
        b.len = len;
    }
    return b;
}
/* A list of byte strings (text = 1: of UTF-8 strings); items point into
 * the options, copied by the out typemap. */
typedef struct { size_t n; const unsigned char **items; size_t *lens; int text; } nsb_list;
/* A list of n items to fill in (an empty one if out of memory). */
static nsb_list nsb_list_new(size_t n, int text)
{
    nsb_list l = { 0, NULL, NULL, text };
    if (n == 0)
        return l;
    l.items = (const unsigned char **)calloc(n, sizeof *l.items);
    l.lens = (size_t *)calloc(n, sizeof *l.lens);
    if (l.items == NULL || l.lens == NULL) {
        free(l.items);
        free(l.lens);
        l.items = NULL;
        l.lens = NULL;
        return l;
    }
    l.n = n;
    return l;
}
/* (ip, port). */
typedef struct { char ip[64]; int port; } nsb_addr;
/* A language callable (a strong reference, a GC-marked box, a registry ref). */
typedef void *nsb_callable;
/* Any language value held the same way (e.g. a selector's per-socket data);
 * nsb_release drops it. */
typedef void *nsb_value;

/* The calling thread's failure, captured right after the C call and raised
 * by %exception once the wrapper holds the interpreter lock again. */
static __thread struct {
    int status;
    int os_error;
    char message[768];
    char verifier_raised[256]; /* why the certificate verifier failed during this call */
    int want; /* NS_ERR_WOULD_BLOCK: the direction to wait for (NS_WANT_READ/WRITE) */
    /* A TLS failure's details (exception attributes verify_code,
     * verify_message, alert, alert_code, alert_sent): 0 / -1 when none. */
    int verify_code, alert, alert_sent;
    const char *verify_message; /* static storage */
} nsb_err;

/* The header's status list as data, for the languages' exception tables:
 * row i has the status, its name, the exception class the bindings raise
 * for it ("Error" = the base class), the status whose class it derives from
 * (NS_OK = the base class) and a description. */
typedef struct { int status; const char *name; const char *exception; int parent; const char *doc; } nsb_status_row;
static const nsb_status_row nsb_statuses[] = {
#define NSB_STATUS_ROW(name, value, cls, parent, doc) { value, #name, #cls, parent, doc },
    NS_STATUS_MAP(NSB_STATUS_ROW)
#undef NSB_STATUS_ROW
};
#define NSB_STATUS_COUNT (sizeof nsb_statuses / sizeof nsb_statuses[0])

/* The row of `status`, or -1 (e.g. a status added by a newer library). */
static int nsb_status_index(int status)
{
    for (size_t i = 0; i < NSB_STATUS_COUNT; i++)
        if (nsb_statuses[i].status == status)
            return (int)i;
    return -1;
}

static void nsb_fail(int status)
{
    const char *message = ns_last_error();
    nsb_err.status = status;
    nsb_err.os_error = ns_last_os_error();
    nsb_err.verify_code = ns_last_verify_code();
    nsb_err.verify_message = ns_last_verify_message();
    nsb_err.alert = ns_last_tls_alert();
    nsb_err.alert_sent = ns_last_tls_alert_sent();
    if (nsb_err.verifier_raised[0] != '\0')
        snprintf(nsb_err.message, sizeof nsb_err.message, "%s (the certificate verifier %s)",
                 message, nsb_err.verifier_raised);
    else
        snprintf(nsb_err.message, sizeof nsb_err.message, "%s", message[0] ? message : ns_status_name(status));
}

/* Called by a verifier trampoline when the language callable raised. */
static void nsb_note_verifier_raised(const char *what)
{
    snprintf(nsb_err.verifier_raised, sizeof nsb_err.verifier_raised, "raised: %s", what ? what : "an error");
}

/* Called by a verifier trampoline when the callable returned something
 * other than the language's true or false: the certificate is rejected
 * (fail closed; 0 is true in Ruby and Lua) and the error says why. */
static void nsb_note_verifier_returned(const char *value, const char *expected)
{
    snprintf(nsb_err.verifier_raised, sizeof nsb_err.verifier_raised,
             "returned %s, not %s: rejected", value ? value : "a value", expected);
}

static long nsb_check(long r)
{
    if (r < 0)
        nsb_fail((int)r);
    return r;
}

static void *nsb_check_ptr(void *p)
{
    if (p == NULL)
        nsb_fail(ns_last_status() < 0 ? ns_last_status() : NS_ERR_NOMEM);
    return p;
}

/* Blocking calls: described by an nsb_call, run by nsb_run without the
 * interpreter lock (nsb_unlocked is defined per language). */
enum nsb_op {
    NSB_CLIENT, NSB_CLIENT_TLS, NSB_CONNECT, NSB_SEND, NSB_SEND_ALL, NSB_RECV,
    NSB_ACCEPT, NSB_HANDSHAKE, NSB_CLOSE, NSB_WAIT, NSB_CONNECT_CONTINUE
};

typedef struct {
    enum nsb_op op;
    nsb_socket *s;
    nsb_selector *sel;
    const nsb_options *o;
    const char *node, *service;
    const void *cbuf;
    void *buf;
    size_t len;
    int flags;
    int64_t timeout;
    long r;
    nsb_socket *made;
    int wake_fd;          /* Ruby: the eventfd the unblocking function writes */
    volatile int woken;   /* Ruby: the unblocking function ran */
    int ran;              /* Ruby: the call ran (not skipped for a pending interrupt) */
} nsb_call;

static void nsb_run(nsb_call *c)
{
    switch (c->op) {
    case NSB_CLIENT:     c->made = ns_make_client_socket(c->node, c->service, c->o); break;
    case NSB_CLIENT_TLS: c->made = ns_make_client_tls_socket(c->node, c->service, c->o); break;
    case NSB_CONNECT:    c->made = ns_socket_connect(c->o, c->node, c->service); break;
    case NSB_SEND:       c->r = ns_socket_send(c->s, c->cbuf, c->len, c->flags); break;
    case NSB_SEND_ALL:   c->r = ns_socket_send_all(c->s, c->cbuf, c->len, c->flags); break;
    case NSB_RECV:       c->r = ns_socket_recv(c->s, c->buf, c->len, c->flags); break;
    case NSB_ACCEPT:     c->made = ns_socket_accept(c->s); break;
    case NSB_HANDSHAKE:  c->r = ns_socket_handshake(c->s); break;
    case NSB_CLOSE:      c->r = ns_socket_close(c->s); break;
    case NSB_WAIT:       c->r = ns_selector_wait(c->sel, c->timeout); break;
    case NSB_CONNECT_CONTINUE: c->r = ns_socket_connect_continue(c->s); break;
    }
    /* Would block: which way to wait, for the languages' conventions
     * (BlockingIOError, IO::WaitReadable/WaitWritable, nil + "wantread"). */
    if (c->s && (c->r == NS_ERR_WOULD_BLOCK ||
                 (c->op == NSB_ACCEPT && c->made == NULL && ns_last_status() == NS_ERR_WOULD_BLOCK))) {
        int want = ns_socket_wants(c->s);
        nsb_err.want = want ? want : c->op == NSB_SEND ? NS_WANT_WRITE : NS_WANT_READ;
    }
}

static void nsb_unlocked(nsb_call *c);

static int nsb_verify(void *userdata, int depth, int preverify_error,
                      const unsigned char *der, size_t der_len);
static void nsb_release(void *userdata);
/* The key log callback's trampoline (per language, beside nsb_verify): an
 * error in the callable is dropped, as a debugging aid must not break the
 * handshake. */
static void nsb_key_log(void *userdata, const char *line);
%}

/* ------------------------------------------------------------------ */
/* Per-language runtime (each file beside this one): nsb_unlocked,    */
/* nsb_verify/nsb_release, raising the pending error (%exception) and  */
/* the typemaps for the glue types above.                              */
/* ------------------------------------------------------------------ */

%include <stdint.i>
%feature("autodoc", "0");

%{
#define NSB_TIMEOUT_RANGE "a timeout is 0 or more microseconds, or -1 for no limit"
/* A timeout beyond int64 (every int64_t argument is a timeout in µs): the
 * message names the method, the parameter, the value, the unit and the
 * range, e.g. "Options.set_read_timeout(): us = 9223372036854775808 is out
 * of range: a timeout is -1 (no limit) or 0 to 9223372036854775807 µs". */
static void nsb_timeout_overflow_text(char *out, size_t size, const char *method, const char *param,
                                      const char *value)
{
    snprintf(out, size, "%s: %s = %s is out of range: a timeout is -1 (no limit) or 0 to %lld \xc2\xb5" "s", /* µs */
             method, param, value, (long long)INT64_MAX);
}
%}

%include "netsocket_argerrors.i"

/* For NS_STATUS_MAP; %import wraps nothing. */
%import "netsocket.h"

#if defined(SWIGPYTHON)
%include "python/netsocket_python_runtime.i"
%include "netsocket_docs.i" /* help(): made by python/gen_docs.py from netsocket.h */
#elif defined(SWIGRUBY)
%include "ruby/netsocket_ruby.i"
#elif defined(SWIGLUA)
%include "lua/netsocket_lua.i"
#endif

/* NSB_REPLACING(o, call): a setter that may replace a callable o holds
 * (option_fields.i: the verifier, the key log callback, the key log file
 * that replaces it).  Ruby keeps a replaced callable alive while a
 * constructor may still be taking it (see ruby/netsocket_ruby.i). */
%{
#ifndef NSB_REPLACING
#define NSB_REPLACING(o, call) nsb_check(call)
#endif
%}

/* Input checks every language shares.  A timeout is -1 (no limit) or 0 and
 * more microseconds: another negative number is a mistake, not "no limit".
 * A string must reach C whole: a NUL inside would cut it short
 * ("localhost\0.corp.example" would connect to localhost).  NSB_VALUE_ERROR
 * raises per language (ValueError, ArgumentError, a Lua error). */
%typemap(check) int64_t us {
    if ($1 < -1) NSB_VALUE_ERROR(NSB_TIMEOUT_RANGE);
}
%{
#define NSB_NUL_MESSAGE "a string given to netsocket must not contain a NUL character"
%}
#if defined(SWIGPYTHON) || defined(SWIGRUBY)
/* SWIG's own char * typemap, plus the NUL check (size counts the terminator). */
%typemap(in, fragment="SWIG_AsCharPtrAndSize") const char * (char *buf = 0, size_t size = 0, int alloc = 0) {
    int res = SWIG_AsCharPtrAndSize($input, &buf, &size, &alloc);
    if (!SWIG_IsOK(res)) {
        %argument_fail(res, "$type", $symname, $argnum);
    }
    if (buf && strlen(buf) + 1 != size) NSB_VALUE_ERROR(NSB_NUL_MESSAGE);
    $1 = buf;
}
%typemap(freearg) const char * { if (alloc$argnum == SWIG_NEWOBJ) %delete_array(buf$argnum); }
%typemap(freearg) const char *service ""; /* its own in typemap owns nothing */
#endif

/* A handle freed from script code (Python's raw _netsocket.delete_*, a
 * Lua __gc called by hand) has its pointer cleared: every later use raises
 * instead of touching freed memory.  NSB_FREED(what) raises per language. */
%typemap(check) nsb_options *self { if ($1 == NULL) NSB_FREED("Options"); }
%typemap(check) nsb_socket *self { if ($1 == NULL) NSB_FREED("Socket"); }
%typemap(check) nsb_selector *self { if ($1 == NULL) NSB_FREED("Selector"); }

/* Predicates take any object (non-options become NULL, i.e. false). */
%typemap(typecheck, precedence=SWIG_TYPECHECK_POINTER) const nsb_options *obj { $1 = 1; }

/* ------------------------------------------------------------------ */
/* Constants                                                           */
/* ------------------------------------------------------------------ */

/* NS_OK and every NS_ERR_*, from the header's one status list. */
#define NSB_STATUS_CONSTANT(name, value, cls, parent, doc) %constant int name = value;
NS_STATUS_MAP(NSB_STATUS_CONSTANT)
%constant int NS_WANT_READ = NS_WANT_READ;
%constant int NS_WANT_WRITE = NS_WANT_WRITE;
%constant int NS_SOCKET_OPTIONS = NS_SOCKET_OPTIONS;
%constant int NS_TLS_SOCKET_OPTIONS = NS_TLS_SOCKET_OPTIONS;
%constant int NS_SERVER_TLS_SOCKET_OPTIONS = NS_SERVER_TLS_SOCKET_OPTIONS;
%constant int NS_VERSION_MAJOR = NS_VERSION_MAJOR;
%constant int NS_VERSION_MINOR = NS_VERSION_MINOR;
%constant int NS_VERSION_PATCH = NS_VERSION_PATCH;
%constant int AF_UNSPEC = AF_UNSPEC;
%constant int AF_INET = AF_INET;
%constant int AF_INET6 = AF_INET6;
%constant int SOCK_STREAM = SOCK_STREAM;
%constant int SOCK_DGRAM = SOCK_DGRAM;
%constant int AI_PASSIVE = AI_PASSIVE;
%constant int AI_CANONNAME = AI_CANONNAME;
%constant int AI_NUMERICHOST = AI_NUMERICHOST;
%constant int AI_NUMERICSERV = AI_NUMERICSERV;
%constant int AI_V4MAPPED = AI_V4MAPPED;
%constant int AI_ALL = AI_ALL;
%constant int AI_ADDRCONFIG = AI_ADDRCONFIG;
%constant int IPPROTO_IP = IPPROTO_IP;
%constant int IPPROTO_IPV6 = IPPROTO_IPV6;
%constant int IPPROTO_TCP = IPPROTO_TCP;
%constant int IPPROTO_UDP = IPPROTO_UDP;
%constant int SHUT_RD = SHUT_RD;
%constant int SHUT_WR = SHUT_WR;
%constant int SHUT_RDWR = SHUT_RDWR;
%constant int MSG_OOB = MSG_OOB;
%constant int MSG_PEEK = MSG_PEEK;
%constant int MSG_WAITALL = MSG_WAITALL;
%constant int MSG_DONTWAIT = MSG_DONTWAIT;
%constant int MSG_NOSIGNAL = MSG_NOSIGNAL;
%constant int SOL_SOCKET = SOL_SOCKET;
%constant int SO_REUSEADDR = SO_REUSEADDR;
%constant int SO_REUSEPORT = SO_REUSEPORT;
%constant int SO_KEEPALIVE = SO_KEEPALIVE;
%constant int SO_BROADCAST = SO_BROADCAST;
%constant int SO_LINGER = SO_LINGER;
%constant int SO_RCVBUF = SO_RCVBUF;
%constant int SO_SNDBUF = SO_SNDBUF;
%constant int SO_ERROR = SO_ERROR;
%constant int SO_TYPE = SO_TYPE;
%constant int TCP_NODELAY = TCP_NODELAY;

/* ------------------------------------------------------------------ */
/* Module functions                                                    */
/* ------------------------------------------------------------------ */

%rename("%(strip:[nsb_])s") "";
%rename(Options) nsb_options;
%rename(Socket) nsb_socket;
%rename(SelectorCore) nsb_selector;
%nodefaultctor nsb_socket;

%newobject nsb_make_client_socket;
%newobject nsb_make_client_tls_socket;
%newobject nsb_make_server_socket;
%newobject nsb_make_server_tls_socket;
%newobject nsb_socket_options_to_client_socket;
%newobject nsb_connect_start;
%newobject nsb_options::copy;
%newobject nsb_socket::accept;

%{
static const char *nsb_socket_node_get(nsb_socket *s) { return ns_socket_node(s); }
static const char *nsb_socket_service_get(nsb_socket *s) { return ns_socket_service(s); }
static int64_t nsb_socket_read_timeout_get(nsb_socket *s) { return ns_socket_get_read_timeout(s); }

static long nsb_io(enum nsb_op op, nsb_socket *s, const void *cbuf, void *buf, size_t len, int flags)
{
    nsb_call c = { .op = op, .s = s, .cbuf = cbuf, .buf = buf, .len = len, .flags = flags };
    nsb_unlocked(&c);
    return c.r;
}

static nsb_addr nsb_address(nsb_socket *s, int peer)
{
    nsb_addr a = { "", 0 };
    if (nsb_check(peer ? ns_socket_peer_address(s, a.ip, sizeof a.ip)
                       : ns_socket_local_address(s, a.ip, sizeof a.ip)) < 0)
        return a;
    a.port = (int)nsb_check(peer ? ns_socket_peer_port(s) : ns_socket_local_port(s));
    return a;
}
%}

%{
static int nsb_options_kind_get(nsb_options *o) { return (int)ns_options_kind_of(o); }
%}

%include "netsocket_describe.i" /* repr / inspect / tostring */

typedef struct {} nsb_options;
typedef struct {} nsb_socket;
typedef struct {} nsb_selector;

%inline %{
static const char *nsb_version(void) { return ns_version(); }
static unsigned nsb_version_number(void) { return ns_version_number(); }
static const char *nsb_status_name(int status) { return ns_status_name(status); }
static int nsb_last_status(void) { return ns_last_status(); }
static const char *nsb_last_error(void) { return ns_last_error(); }
/* The retry configs of this thread's last ECH rejection (None/nil if none). */
static nsb_bytes nsb_last_ech_retry_configs(void)
{
    size_t len = 0;
    const unsigned char *p = ns_last_ech_retry_configs(&len);
    return nsb_bytes_copy(p, len);
}
static int nsb_last_os_error(void) { return ns_last_os_error(); }
static void nsb_clear_error(void) { ns_clear_error(); }

static bool nsb_is_socket_options(const nsb_options *obj) { return ns_options_is_socket(obj); }
static bool nsb_is_tls_socket_options(const nsb_options *obj) { return ns_options_is_tls(obj); }
static bool nsb_is_server_tls_socket_options(const nsb_options *obj) { return ns_options_is_server_tls(obj); }

%}
%{
static nsb_socket *nsb_open(enum nsb_op op, const nsb_options *o, const char *node, const char *service)
{
    nsb_call c = { .op = op, .o = o, .node = node, .service = service };
    nsb_unlocked(&c);
    return (nsb_socket *)nsb_check_ptr(c.made);
}
static nsb_socket *nsb_make_client_socket(const char *node, const char *service, const nsb_options *o)
{
    return nsb_open(NSB_CLIENT, o, node, service);
}
static nsb_socket *nsb_make_client_tls_socket(const char *node, const char *service, const nsb_options *o)
{
    return nsb_open(NSB_CLIENT_TLS, o, node, service);
}
static nsb_socket *nsb_make_server_socket(const char *node, const char *service, const nsb_options *o)
{
    return (nsb_socket *)nsb_check_ptr(ns_make_server_socket(node, service, o));
}
static nsb_socket *nsb_make_server_tls_socket(const char *node, const char *service, const nsb_options *o)
{
    return (nsb_socket *)nsb_check_ptr(ns_make_server_tls_socket(node, service, o));
}
static nsb_socket *nsb_socket_options_to_client_socket(const nsb_options *o, const char *node, const char *service)
{
    return nsb_open(NSB_CONNECT, o, node, service);
}
/* Never blocks (the name is resolved on the library's thread): no need to
 * drop the interpreter lock. */
static nsb_socket *nsb_connect_start(const nsb_options *o, const char *node, const char *service)
{
    return (nsb_socket *)nsb_check_ptr(ns_socket_connect_start(o, node, service));
}
%}

nsb_socket *nsb_make_client_socket(const char *node, const char *service, const nsb_options *options = NULL);
nsb_socket *nsb_make_client_tls_socket(const char *node, const char *service, const nsb_options *options = NULL);
nsb_socket *nsb_make_server_socket(const char *node, const char *service, const nsb_options *options = NULL);
nsb_socket *nsb_make_server_tls_socket(const char *node, const char *service, const nsb_options *options = NULL);
nsb_socket *nsb_socket_options_to_client_socket(const nsb_options *options, const char *node, const char *service);
/* An open that never blocks: drive it with Socket.connect_continue, waiting
 * in between as wants / wants_fd / wants_timeout say. */
nsb_socket *nsb_connect_start(const nsb_options *options, const char *node, const char *service);


/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */


%immutable;
%extend nsb_options {
    int kind;
}
%mutable;

/* Every field's setter (or adder) and read-only view: from one table. */
%include "option_fields.i"

/* Server identities and keys: calls with more than one argument, so not
 * rows of the field table (their getters are views here). */
%{
static long nsb_options_identity_count_get(nsb_options *o) { return (long)ns_options_identity_count(o); }
static long nsb_options_ech_key_count_get(nsb_options *o) { return (long)ns_options_ech_key_count(o); }

static nsb_bytes nsb_options_published_ech_config_list_get(nsb_options *o)
{
    size_t len = 0;
    const unsigned char *p = ns_options_get_published_ech_config_list(o, &len);
    return nsb_bytes_copy(p, len);
}
%}
%immutable;
%extend nsb_options {
    long identity_count;
    long ech_key_count;
    nsb_bytes published_ech_config_list;
}
%mutable;
%extend nsb_options {
    /* Protected keys: password as bytes/str, or a callable returning them
     * (asked now, while the key loads); None/nil = none given. */
    void set_private_key_with_password(const void *pem, size_t LEN, const void *password, size_t PWLEN) {
        nsb_check(ns_options_set_private_key_with_password($self, pem, LEN, password, PWLEN));
    }
    void set_private_key_file_with_password(const char *path, const void *password, size_t PWLEN) {
        nsb_check(ns_options_set_private_key_file_with_password($self, path, password, PWLEN));
    }
    void set_pkcs12(const void *data, size_t LEN, const void *password, size_t PWLEN) {
        nsb_check(ns_options_set_pkcs12($self, data, LEN, password, PWLEN));
    }
    void set_pkcs12_file(const char *path, const void *password, size_t PWLEN) {
        nsb_check(ns_options_set_pkcs12_file($self, path, password, PWLEN));
    }
    /* A chain and its key served by name (the certificate's names, or those
     * given with add_identity_name). */
    void add_identity(const void *chain, size_t LEN, const void *key, size_t KEYLEN) {
        nsb_check(ns_options_add_identity($self, chain, LEN, key, KEYLEN));
    }
    void add_identity_name(long i, const char *name) {
        /* a negative index is out of range like any other */
        size_t at = i < 0 ? ns_options_identity_count($self) : (size_t)i;
        nsb_check(ns_options_add_identity_name($self, at, name));
    }
    void clear_identities() { nsb_check(ns_options_clear_identities($self)); }
    /* Encrypted Client Hello keys (server). */
    void add_ech_key(const void *data, size_t LEN, const void *config, size_t CONFLEN, int retry = 1) {
        nsb_check(ns_options_add_ech_key($self, data, LEN, config, CONFLEN, retry));
    }
    void generate_ech_key(const char *public_name, int config_id) {
        nsb_check(ns_options_generate_ech_key($self, public_name, config_id));
    }
    void clear_ech_keys() { nsb_check(ns_options_clear_ech_keys($self)); }
}


#if defined(SWIGPYTHON)
%define NSB_FROM from_ %enddef
#else
%define NSB_FROM from %enddef
#endif
%extend nsb_options {
    /* Options(kind[, from]): the defaults of kind, or the fields of `from`
     * (Python's keyword is from_, as `from` is reserved there). */
    nsb_options(int kind, const nsb_options *NSB_FROM = NULL) {
        return (nsb_options *)nsb_check_ptr(NSB_FROM ? ns_options_copy(NSB_FROM, (ns_options_kind)kind)
                                                    : ns_options_new((ns_options_kind)kind));
    }
    ~nsb_options() { ns_options_free($self); }
    nsb_options *copy(int kind) {
        return (nsb_options *)nsb_check_ptr(ns_options_copy($self, (ns_options_kind)kind));
    }
    bool is_socket() { return ns_options_is_socket($self); }
    bool is_tls() { return ns_options_is_tls($self); }
    bool is_server_tls() { return ns_options_is_server_tls($self); }

}

/* ------------------------------------------------------------------ */
/* Sockets                                                             */
/* ------------------------------------------------------------------ */


%immutable;
%extend nsb_socket {
    const char *node;
    const char *service;
    int64_t read_timeout;
}
%mutable;

%extend nsb_socket {
    ~nsb_socket() { ns_socket_free($self); }

    long send(const void *data, size_t LEN, int flags = 0) {
        return nsb_check(nsb_io(NSB_SEND, $self, data, NULL, LEN, flags));
    }
    long send_all(const void *data, size_t LEN, int flags = 0) {
        return nsb_check(nsb_io(NSB_SEND_ALL, $self, data, NULL, LEN, flags));
    }
    /* Up to size bytes; empty at end of stream.  A non-blocking socket
     * with nothing to read yet: WouldBlockError (Python, a BlockingIOError),
     * WaitReadableError/WaitWritableError (Ruby), nil, "wantread" (Lua). */
    nsb_bytes recv(size_t size, int flags = 0) {
        nsb_bytes b = { NULL, 0, 0 };
        long r;
        b.data = (unsigned char *)malloc(size ? size : 1);
        if (b.data == NULL) {
            nsb_err.status = NS_ERR_NOMEM;
            nsb_err.verify_code = 0;
            nsb_err.alert = -1;
            snprintf(nsb_err.message, sizeof nsb_err.message, "recv: cannot allocate %zu bytes", size);
            return b;
        }
        r = nsb_io(NSB_RECV, $self, NULL, b.data, size, flags);
        if (nsb_check(r) >= 0) {
            b.len = (size_t)r;
        } else { /* the error is raised before the out typemap frees */
            free(b.data);
            b.data = NULL;
        }
        return b;
    }
#if defined(SWIGPYTHON)
    /* Python: fills a writable buffer and returns the count. */
    PyObject *recv_into(void *buffer, size_t LEN, size_t nbytes = 0, int flags = 0) {
        long r = nsb_io(NSB_RECV, $self, NULL, buffer, nbytes && nbytes < LEN ? nbytes : LEN, flags);
        if (nsb_check(r) < 0)
            return NULL;
        return PyLong_FromLong(r);
    }
#endif
    nsb_socket *accept() {
        nsb_call c = { .op = NSB_ACCEPT, .s = $self };
        nsb_unlocked(&c);
        return (nsb_socket *)nsb_check_ptr(c.made);
    }
    /* true once done (Lua: nil, "wantread"/"wantwrite" while it must wait). */
    bool handshake() { return nsb_check(nsb_io(NSB_HANDSHAKE, $self, NULL, NULL, 0, 0)) == 0; }
    /* The next step of an open begun by connect_start: true once open
     * (and handshaken); while it must wait, the would-block convention of
     * recv (the direction is that of wants). */
    bool connect_continue() { return nsb_check(nsb_io(NSB_CONNECT_CONTINUE, $self, NULL, NULL, 0, 0)) == 0; }
    /* After a would-block: the direction (NS_WANT_READ / NS_WANT_WRITE, 0
     * if nothing is pending), the fd to watch for it (an open's changes
     * from step to step) and the microseconds left until the operation's
     * deadline (negative: none). */
    int wants() { return ns_socket_wants($self); }
    int wants_fd() { return ns_socket_wants_fd($self); }
    int64_t wants_timeout() { return ns_socket_wants_timeout($self); }
    void shutdown(int how) { nsb_check(ns_socket_shutdown($self, how)); }
    void close() { nsb_check(nsb_io(NSB_CLOSE, $self, NULL, NULL, 0, 0)); }
    bool is_closed() { return ns_socket_is_closed($self) != 0; }
    bool is_tls() { return ns_socket_is_tls($self) != 0; }
    int fileno() { return ns_socket_fd($self); }
    void set_non_blocking(int on) { nsb_check(ns_socket_set_non_blocking($self, on)); }
    bool is_non_blocking() { return ns_socket_is_non_blocking($self) == 1; }
    void set_read_timeout(int64_t us) { nsb_check(ns_socket_set_read_timeout($self, us)); }
    /* (ip, port) of the peer / of this end. */
    nsb_addr peer() { return nsb_address($self, 1); }
    nsb_addr info() { return nsb_address($self, 0); }
    void setsockopt(int level, int name, int value) {
        nsb_check(ns_socket_setsockopt($self, level, name, &value, sizeof value));
    }
    void setsockopt_bytes(int level, int name, const void *data, size_t LEN) {
        nsb_check(ns_socket_setsockopt($self, level, name, data, LEN));
    }
    int getsockopt(int level, int name) {
        int value = 0;
        size_t len = sizeof value;
        nsb_check(ns_socket_getsockopt($self, level, name, &value, &len));
        return value;
    }
    nsb_bytes getsockopt_bytes(int level, int name, size_t size) {
        nsb_bytes b = { (unsigned char *)calloc(1, size ? size : 1), size, 0 };
        if (b.data == NULL) {
            b.len = 0;
        } else if (nsb_check(ns_socket_getsockopt($self, level, name, b.data, &b.len)) < 0) {
            free(b.data);
            b.data = NULL;
            b.len = 0;
        }
        return b;
    }
    /* TLS queries: None/nil on plain sockets. */
    nsb_bytes peer_certificate() {
        size_t len = 0;
        const unsigned char *der = ns_socket_peer_certificate($self, &len);
        nsb_bytes b = { NULL, 0, der == NULL };
        if (der != NULL && (b.data = (unsigned char *)malloc(len ? len : 1)) != NULL) {
            memcpy(b.data, der, len);
            b.len = len;
        }
        return b;
    }
    /* The peer's certificate chain as sent, leaf first (a list of DER byte
     * strings; empty on plain sockets). */
    nsb_list peer_certificate_chain() {
        nsb_list l = nsb_list_new(ns_socket_peer_certificate_chain_count($self), 0);
        for (size_t i = 0; i < l.n; i++)
            l.items[i] = ns_socket_peer_certificate_chain_at($self, i, &l.lens[i]);
        return l;
    }
    /* The key-exchange group, e.g. "X25519"; None/nil on plain sockets. */
    const char *key_exchange_group() { return ns_socket_key_exchange_group($self); }
    const char *selected_alpn() { return ns_socket_selected_alpn($self); }
    const char *server_name() { return ns_socket_server_name($self); }
    /* The server identity used (accepted sockets), -1 for the default. */
    int identity_index() { return ns_socket_identity_index($self); }
    bool ech_accepted() { return ns_socket_ech_accepted($self) != 0; }
    nsb_bytes ech_retry_configs() {
        size_t len = 0;
        const unsigned char *p = ns_socket_ech_retry_configs($self, &len);
        return nsb_bytes_copy(p, len);
    }
    /* Rotation: serve o's identities from now on (any thread). */
    void replace_identities(const nsb_options *o) { nsb_check(ns_socket_replace_identities($self, o)); }
    const char *tls_version() { return ns_socket_tls_version($self); }
    const char *tls_cipher() { return ns_socket_tls_cipher($self); }
    /* Whether the handshake resumed a session. */
    bool session_reused() { return ns_socket_session_reused($self) != 0; }
    /* The client's newest resumable session as bytes, for the options field
     * sessions of a later process (they hold the session's secret). */
    nsb_bytes save_session() {
        nsb_bytes b = { NULL, 0, 0 };
        ssize_t n = nsb_check(ns_socket_save_session($self, NULL, 0));
        if (n > 0 && (b.data = (unsigned char *)malloc((size_t)n)) == NULL)
            nsb_fail(NS_ERR_NOMEM);
        else if (n > 0 && nsb_check(ns_socket_save_session($self, b.data, (size_t)n)) == n)
            b.len = (size_t)n;
        return b;
    }
    int pending() { return ns_socket_pending($self); }
}

/* ------------------------------------------------------------------ */
/* Selector (the language wrappers map keys to sockets and data)      */
/* ------------------------------------------------------------------ */

%extend nsb_selector {
    nsb_selector() { return (nsb_selector *)nsb_check_ptr(ns_selector_new()); }
    ~nsb_selector() { ns_selector_free($self); }
    /* Watches s for interest (NS_WANT_READ | NS_WANT_WRITE) with an idle
     * timeout; the selector owns value until s leaves it (removed, closed,
     * freed, or the selector freed), so the language side keeps no table
     * and a wait costs O(ready). */
    void watch(nsb_socket *s, int interest, int64_t timeout_us, nsb_value value) {
        nsb_check(ns_selector_watch($self, s, interest, timeout_us, value, nsb_release));
    }
    void unwatch(nsb_socket *s) { nsb_check(ns_selector_remove($self, s)); }
    int poll(int64_t timeout_us) {
        nsb_call c = { .op = NSB_WAIT, .sel = $self, .timeout = timeout_us };
        nsb_unlocked(&c);
        return (int)nsb_check(c.r);
    }
    /* Event i's value (as given to watch) and what it is ready for. */
    nsb_value event_value(int i) { return ns_selector_event_data($self, i); }
    int event_ready(int i) { return ns_selector_event_ready($self, i); }
    bool event_timed_out(int i) { return ns_selector_event_timed_out($self, i) != 0; }
    void interrupt() { nsb_check(ns_selector_interrupt($self)); }
    long count() { return (long)ns_selector_count($self); }
}

/* Per-language idioms (builders, context managers, ...). */
#if defined(SWIGPYTHON)
%include "python/netsocket_python.i"
#endif
