/* Options: the setters and getters of the scalar fields, the name lists
 * (sni*, alpn*), the callbacks (certificate verifier, key log) and
 * Encrypted Client Hello.  Keys, certificates and identities:
 * options_credentials.c; the object itself: options.c. */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "options_field.h"

/* ---- scalar fields ---- */

static int check_family(int v)
{
    return v == AF_INET || v == AF_INET6 || v == AF_UNSPEC;
}
static int check_socktype(int v) { return v == SOCK_STREAM; }
static int check_protocol(int v) { return v == 0 || v == IPPROTO_TCP; }
static int check_flags(int v)
{
    return (v & ~(AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | AI_V4MAPPED | AI_ALL |
                  AI_ADDRCONFIG | AI_NUMERICSERV)) == 0;
}
static int check_any(int v) { return 1; }

/* One setter/getter pair for an int field: kinds that have it, a validity
 * check, the default a getter returns for NULL, and whether TLS compiles it. */
#define NS_INT_FIELD(name, seed, kinds, check, fallback, tls)                            \
    int ns_options_set_##name(ns_options *o, int v)                                      \
    {                                                                                    \
        int rc = ns_options_settable(o, kinds, seed);                                    \
        if (rc != NS_OK)                                                                 \
            return rc;                                                                   \
        if (!check(v))                                                                   \
            return ns_fail(NS_ERR_INVALID, 0, "%s: unsupported value %d", seed, v);      \
        ns_options_lock(o);                                                              \
        o->name = v;                                                                     \
        return ns_options_end(o, NS_OK, tls);                                            \
    }                                                                                    \
    int ns_options_get_##name(const ns_options *o) { return o ? o->name : (fallback); }

NS_INT_FIELD(ai_family, "ai-family", KINDS_ALL, check_family, AF_INET, 0)
NS_INT_FIELD(ai_socktype, "ai-socktype", KINDS_ALL, check_socktype, SOCK_STREAM, 0)
NS_INT_FIELD(ai_flags, "ai-flags", KINDS_ALL, check_flags, AI_V4MAPPED, 0)
NS_INT_FIELD(ai_protocol, "ai-protocol", KINDS_ALL, check_protocol, 0, 0)
NS_INT_FIELD(non_blocking, "non-blocking?", KINDS_ALL, check_any, 1, 0)
NS_INT_FIELD(handshake, "handshake", KINDS_TLS, check_any, 1, 0)
NS_INT_FIELD(ech_grease, "ech-grease?", KINDS_TLS, check_any, 0, 1)
NS_INT_FIELD(ignore_unexpected_eof, "ignore-unexpected-eof?", KINDS_TLS, check_any, 0, 0)
NS_INT_FIELD(session_resumption, "session-resumption?", KINDS_TLS, check_any, 1, 1)
NS_INT_FIELD(client_certificate_required, "client-certificate-required?", KINDS_SERVER,
             check_any, 0, 1)

int ns_options_set_connection_timeout(ns_options *o, int64_t us)
{
    int rc = ns_options_begin(o, KINDS_ALL, "connection-timeout");
    if (rc != NS_OK)
        return rc;
    o->connection_timeout = us < 0 ? -1 : us;
    return ns_options_end(o, NS_OK, 0);
}
int64_t ns_options_get_connection_timeout(const ns_options *o)
{
    return o ? o->connection_timeout : -1;
}

int ns_options_set_read_timeout(ns_options *o, int64_t us)
{
    int rc = ns_options_begin(o, KINDS_ALL, "read-timeout");
    if (rc != NS_OK)
        return rc;
    o->read_timeout = us < 0 ? -1 : us;
    return ns_options_end(o, NS_OK, 0);
}
int64_t ns_options_get_read_timeout(const ns_options *o) { return o ? o->read_timeout : -1; }

int ns_options_set_write_timeout(ns_options *o, int64_t us)
{
    int rc = ns_options_begin(o, KINDS_ALL, "write-timeout");
    if (rc != NS_OK)
        return rc;
    o->write_timeout = us < 0 ? -1 : us;
    return ns_options_end(o, NS_OK, 0);
}
int64_t ns_options_get_write_timeout(const ns_options *o) { return o ? o->write_timeout : -1; }

/* ---- the verifier ---- */

int ns_options_set_certificate_verifier_owned(ns_options *o, ns_certificate_verifier fn,
                                              void *userdata, ns_release_function release)
{
    int rc = ns_options_settable(o, KINDS_TLS, "certificate-verifier");
    if (rc != NS_OK || fn == NULL) {
        if (release) /* refused, or removing: nothing keeps userdata */
            release(userdata);
        if (rc != NS_OK)
            return rc;
    }
    ns_verifier *v = fn ? ns_verifier_new(fn, userdata, release) : NULL;
    if (fn && v == NULL)
        return ns_last_status();
    ns_options_lock(o);
    ns_verifier *old = o->verifier;
    o->verifier = v;
    ns_options_end(o, NS_OK, 1);
    /* Released outside the lock: a binding's release may take its own. */
    ns_verifier_unref(old);
    return NS_OK;
}

int ns_options_set_certificate_verifier(ns_options *o, ns_certificate_verifier fn,
                                        void *userdata)
{
    return ns_options_set_certificate_verifier_owned(o, fn, userdata, NULL);
}

ns_certificate_verifier ns_options_get_certificate_verifier(const ns_options *o, void **userdata)
{
    const ns_verifier *v = o ? o->verifier : NULL;
    if (userdata)
        *userdata = v ? v->userdata : NULL;
    return v ? v->fn : NULL;
}

/* ---- sni* and alpn* ---- */

static int add_name(ns_options *o, unsigned kinds, ns_strlist *l, const char *name,
                    const char *field)
{
    int rc = ns_options_settable(o, kinds, field);
    if (rc != NS_OK)
        return rc;
    if (name == NULL || name[0] == '\0')
        return ns_fail(NS_ERR_INVALID, 0, "%s: empty name", field);
    if (strlen(name) > 255)
        return ns_fail(NS_ERR_INVALID, 0, "%s: name longer than 255 bytes", field);
    ns_options_lock(o);
    return ns_options_end(o, ns_strlist_add(l, name), 1);
}

static int clear_names(ns_options *o, unsigned kinds, ns_strlist *l, const char *field)
{
    int rc = ns_options_begin(o, kinds, field);
    if (rc != NS_OK)
        return rc;
    ns_strlist_clear(l);
    return ns_options_end(o, NS_OK, 1);
}

int ns_options_add_sni(ns_options *o, const char *name)
{
    if (o && o->kind == NS_SERVER_TLS_SOCKET_OPTIONS)
        return ns_fail(NS_ERR_INVALID, 0,
                       "sni* is not a field of server-tls-socket-options: a server serves "
                       "certificates by name with ns_options_add_identity");
    return add_name(o, KINDS_CLIENT, o ? &o->sni : NULL, name, "sni*");
}
int ns_options_clear_sni(ns_options *o)
{
    return clear_names(o, KINDS_CLIENT, o ? &o->sni : NULL, "sni*");
}
size_t ns_options_sni_count(const ns_options *o) { return o ? o->sni.count : 0; }
const char *ns_options_get_sni(const ns_options *o, size_t i)
{
    return o ? ns_strlist_at(&o->sni, i) : NULL;
}

int ns_options_add_alpn(ns_options *o, const char *name)
{
    return add_name(o, KINDS_TLS, o ? &o->alpn : NULL, name, "alpn*");
}
int ns_options_clear_alpn(ns_options *o)
{
    return clear_names(o, KINDS_TLS, o ? &o->alpn : NULL, "alpn*");
}
size_t ns_options_alpn_count(const ns_options *o) { return o ? o->alpn.count : 0; }
const char *ns_options_get_alpn(const ns_options *o, size_t i)
{
    return o ? ns_strlist_at(&o->alpn, i) : NULL;
}

/* ---- the key log ---- */

/* Replaces the key log (k's reference taken over); the old one is released
 * outside the lock, as a binding's release may take its own. */
static void set_key_log(ns_options *o, ns_key_log *k)
{
    ns_options_lock(o);
    ns_key_log *old = o->key_log;
    o->key_log = k;
    ns_options_end(o, NS_OK, 1);
    ns_key_log_unref(old);
}

int ns_options_set_key_log_file(ns_options *o, const char *path)
{
    int rc = ns_options_settable(o, KINDS_TLS, "key-log");
    if (rc != NS_OK)
        return rc;
    if (path != NULL && path[0] == '\0')
        return ns_fail(NS_ERR_INVALID, 0, "key-log: empty file name");
    ns_key_log *k = path ? ns_key_log_open(path) : NULL;
    if (path && k == NULL)
        return ns_last_status();
    set_key_log(o, k);
    return NS_OK;
}

const char *ns_options_get_key_log_file(const ns_options *o)
{
    return o && o->key_log ? o->key_log->path : NULL;
}

int ns_options_set_key_log_callback(ns_options *o, ns_key_log_callback fn, void *userdata,
                                    ns_release_function release)
{
    int rc = ns_options_settable(o, KINDS_TLS, "key-log");
    if (rc != NS_OK || fn == NULL) {
        if (release)
            release(userdata);
        if (rc == NS_OK)
            set_key_log(o, NULL);
        return rc;
    }
    ns_key_log *k = ns_key_log_with(fn, userdata, release);
    if (k == NULL)
        return ns_last_status();
    set_key_log(o, k);
    return NS_OK;
}

ns_key_log_callback ns_options_get_key_log_callback(const ns_options *o, void **userdata)
{
    const ns_key_log *k = o ? o->key_log : NULL;
    if (userdata)
        *userdata = k && k->fn ? k->userdata : NULL;
    return k ? k->fn : NULL;
}

/* ---- Encrypted Client Hello ---- */

int ns_options_add_ech_key(ns_options *o, const void *key, size_t key_len, const void *config,
                           size_t config_len, int retry)
{
    int rc = ns_options_begin(o, KINDS_SERVER, "ech-keys");
    if (rc != NS_OK)
        return rc;
    rc = ns_ech_keys_add(&o->ech_keys, key, key_len, config, config_len, retry);
    return ns_options_end(o, rc, 1);
}

int ns_options_generate_ech_key(ns_options *o, const char *public_name, int config_id)
{
    int rc = ns_options_begin(o, KINDS_SERVER, "ech-keys");
    if (rc != NS_OK)
        return rc;
    return ns_options_end(o, ns_ech_keys_generate(&o->ech_keys, public_name, config_id), 1);
}

int ns_options_clear_ech_keys(ns_options *o)
{
    int rc = ns_options_begin(o, KINDS_SERVER, "ech-keys");
    if (rc != NS_OK)
        return rc;
    ns_ech_keys_unref(o->ech_keys);
    o->ech_keys = NULL;
    return ns_options_end(o, NS_OK, 1);
}

size_t ns_options_ech_key_count(const ns_options *o)
{
    return o ? ns_ech_keys_count(o->ech_keys) : 0;
}

const unsigned char *ns_options_get_published_ech_config_list(const ns_options *o, size_t *len)
{
    size_t n = 0;
    const uint8_t *list = ns_ech_keys_published(o ? o->ech_keys : NULL, &n);
    if (len)
        *len = n;
    return list;
}

int ns_options_set_ech_config_list(ns_options *o, const void *data, size_t len)
{
    int rc = ns_options_settable(o, KINDS_TLS, "ech-config-list");
    if (rc != NS_OK)
        return rc;
    uint8_t *copy = NULL;
    if (data != NULL && len > 0) {
        if ((rc = ns_ech_check_config_list(data, len)) != NS_OK)
            return rc;
        if ((copy = malloc(len)) == NULL)
            return ns_fail(NS_ERR_NOMEM, ENOMEM, "ech-config-list: out of memory");
        memcpy(copy, data, len);
    }
    ns_options_lock(o);
    free(o->ech_config_list);
    o->ech_config_list = copy;
    o->ech_config_list_len = copy ? len : 0;
    return ns_options_end(o, NS_OK, 1);
}

const unsigned char *ns_options_get_ech_config_list(const ns_options *o, size_t *len)
{
    if (len)
        *len = o ? o->ech_config_list_len : 0;
    return o ? o->ech_config_list : NULL;
}
