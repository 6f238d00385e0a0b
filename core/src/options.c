/* Options objects: the three kinds and their defaults, new, copy and free,
 * the guard and lock every setter takes (options_field.h), saved sessions
 * waiting for the client configuration, and the consistent snapshot a
 * socket is opened from.  The fields' setters and getters:
 * options_fields.c and options_credentials.c.
 *
 * Threads: a setter holds the object's lock while it changes a field, and a
 * constructor holds it while it copies the scalar fields and takes (or
 * builds) the compiled TLS configuration, so a socket is always made from
 * one consistent state even while another thread changes the options.  A
 * setter that changes what TLS uses drops the compiled configuration; the
 * next socket builds a new one, and sockets already made keep the old. */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "options_field.h"

static const char *kind_name(ns_options_kind kind)
{
    switch (kind) {
    case NS_SOCKET_OPTIONS: return "socket-options";
    case NS_TLS_SOCKET_OPTIONS: return "tls-socket-options";
    case NS_SERVER_TLS_SOCKET_OPTIONS: return "server-tls-socket-options";
    }
    return "unknown options";
}

int ns_options_has_field(const ns_options *o, unsigned kinds)
{
    return (kinds & (1u << o->kind)) != 0;
}

int ns_options_settable(const ns_options *o, unsigned kinds, const char *field)
{
    if (o == NULL)
        return ns_fail(NS_ERR_INVALID, 0, "setting %s: NULL options", field);
    if (!ns_options_has_field(o, kinds))
        return ns_fail(NS_ERR_INVALID, 0, "%s is not a field of %s", field, kind_name(o->kind));
    return NS_OK;
}

/* The lock is taken on const options too: a constructor may build and
 * cache the compiled configuration. */
void ns_options_lock(const ns_options *o) { pthread_mutex_lock((pthread_mutex_t *)&o->lock); }
void ns_options_unlock(const ns_options *o) { pthread_mutex_unlock((pthread_mutex_t *)&o->lock); }

static void drop_compiled(ns_options *o)
{
    for (int side = 0; side < 2; side++) {
        ns_tls_config_unref(o->compiled[side]);
        o->compiled[side] = NULL;
    }
}

static void clear_loaded(ns_options *o);

int ns_options_begin(ns_options *o, unsigned kinds, const char *field)
{
    int rc = ns_options_settable(o, kinds, field);
    if (rc == NS_OK)
        ns_options_lock(o);
    return rc;
}

int ns_options_end(ns_options *o, int rc, int tls)
{
    if (rc == NS_OK && tls)
        drop_compiled(o);
    ns_options_unlock(o);
    return rc;
}

static void set_defaults(ns_options *o, ns_options_kind kind)
{
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->ai_family = AF_INET;
    o->ai_socktype = SOCK_STREAM;
    o->ai_flags = AI_V4MAPPED;
    o->ai_protocol = 0;
    o->non_blocking = 1;
    o->connection_timeout = -1;
    o->read_timeout = -1;
    o->write_timeout = -1;
    o->handshake = 1;
    o->session_resumption = 1;
}

ns_options *ns_options_new(ns_options_kind kind)
{
    if (kind < NS_SOCKET_OPTIONS || kind > NS_SERVER_TLS_SOCKET_OPTIONS) {
        ns_fail(NS_ERR_INVALID, 0, "ns_options_new: unknown options kind %d", (int)kind);
        return NULL;
    }
    ns_options *o = malloc(sizeof *o);
    if (o == NULL) {
        ns_fail(NS_ERR_NOMEM, ENOMEM, "ns_options_new: out of memory");
        return NULL;
    }
    set_defaults(o, kind);
    pthread_mutex_init(&o->lock, NULL);
    return o;
}

void ns_options_free(ns_options *o)
{
    if (o == NULL)
        return;
    /* EVP_PKEY_free wipes the key material: BoringSSL's free zeroes memory. */
    EVP_PKEY_free(o->private_key);
    ns_certlist_clear(&o->certificates);
    ns_certlist_clear(&o->trusted);
    ns_verifier_unref(o->verifier);
    ns_strlist_clear(&o->sni);
    ns_strlist_clear(&o->alpn);
    ns_key_log_unref(o->key_log);
    ns_ech_keys_unref(o->ech_keys);
    free(o->ech_config_list);
    for (size_t i = 0; i < o->identity_count; i++)
        ns_identity_clear(&o->identities[i]);
    free(o->identities);
    drop_compiled(o);
    clear_loaded(o);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

/* The fields every kind has: plain values. */
static void copy_scalars(ns_options *o, const ns_options *from)
{
    o->ai_family = from->ai_family;
    o->ai_socktype = from->ai_socktype;
    o->ai_flags = from->ai_flags;
    o->ai_protocol = from->ai_protocol;
    o->non_blocking = from->non_blocking;
    o->connection_timeout = from->connection_timeout;
    o->read_timeout = from->read_timeout;
    o->write_timeout = from->write_timeout;
    if (ns_options_has_field(o, KINDS_TLS) && ns_options_has_field(from, KINDS_TLS)) {
        o->handshake = from->handshake;
        o->ech_grease = from->ech_grease;
        o->ignore_unexpected_eof = from->ignore_unexpected_eof;
        o->session_resumption = from->session_resumption;
    }
    if (ns_options_has_field(o, KINDS_SERVER) && ns_options_has_field(from, KINDS_SERVER))
        o->client_certificate_required = from->client_certificate_required;
}

/* Copies from's fields into the new object o (from is locked). */
static int copy_fields(ns_options *o, const ns_options *from)
{
    copy_scalars(o, from);
    if (!ns_options_has_field(o, KINDS_TLS) || !ns_options_has_field(from, KINDS_TLS))
        return NS_OK;
    if (from->private_key) {
        EVP_PKEY_up_ref(from->private_key);
        o->private_key = from->private_key;
    }
    o->verifier = ns_verifier_ref(from->verifier);
    o->password_fn = from->password_fn;
    o->password_userdata = from->password_userdata;
    o->key_log = ns_key_log_ref(from->key_log);
    if (ns_options_has_field(o, KINDS_SERVER) && ns_options_has_field(from, KINDS_SERVER)) {
        o->ech_keys = ns_ech_keys_ref(from->ech_keys);
        if (from->identity_count &&
            (o->identities = calloc(from->identity_count, sizeof *o->identities)) == NULL)
            return ns_fail(NS_ERR_NOMEM, ENOMEM, "ns_options_copy: out of memory");
        for (; o->identity_count < from->identity_count; o->identity_count++)
            if (ns_identity_copy(&o->identities[o->identity_count],
                                 &from->identities[o->identity_count]) != NS_OK)
                return ns_last_status();
    }
    if (from->ech_config_list_len > 0) {
        if ((o->ech_config_list = malloc(from->ech_config_list_len)) == NULL)
            return ns_fail(NS_ERR_NOMEM, ENOMEM, "ns_options_copy: out of memory");
        memcpy(o->ech_config_list, from->ech_config_list, from->ech_config_list_len);
        o->ech_config_list_len = from->ech_config_list_len;
    }
    if (ns_certlist_copy(&o->certificates, &from->certificates) != NS_OK ||
        ns_certlist_copy(&o->trusted, &from->trusted) != NS_OK ||
        (ns_options_has_field(o, KINDS_CLIENT) && ns_strlist_copy(&o->sni, &from->sni) != NS_OK) ||
        ns_strlist_copy(&o->alpn, &from->alpn) != NS_OK)
        return ns_last_status();
    /* A copy of the same kind compiles to the same thing: share it (and
     * its sessions) until either side changes. */
    if (o->kind == from->kind)
        for (int side = 0; side < 2; side++)
            o->compiled[side] = ns_tls_config_ref(from->compiled[side]);
    return NS_OK;
}

ns_options *ns_options_copy(const ns_options *from, ns_options_kind kind)
{
    if (from == NULL) {
        ns_fail(NS_ERR_INVALID, 0, "ns_options_copy: NULL options");
        return NULL;
    }
    ns_options *o = ns_options_new(kind);
    if (o == NULL)
        return NULL;
    ns_options_lock(from);
    int rc = copy_fields(o, from);
    ns_options_unlock(from);
    if (rc != NS_OK) {
        ns_options_free(o);
        return NULL;
    }
    return o;
}

int ns_options_snapshot(const ns_options *o, int tls, int server_side, ns_options *values,
                        ns_tls_config **compiled)
{
    memset(values, 0, sizeof *values);
    values->kind = o->kind;
    *compiled = NULL;
    ns_options *m = (ns_options *)o; /* the cache is not the options' value */
    ns_options_lock(o);
    copy_scalars(values, o);
    int rc = NS_OK;
    if (tls) {
        if (m->compiled[server_side] == NULL &&
            (m->compiled[server_side] = ns_tls_config_build(o, server_side)) != NULL &&
            !server_side) {
            ns_session_adopt(m->compiled[0], m->loaded, m->loaded_count);
            clear_loaded(m);
        }
        if ((*compiled = ns_tls_config_ref(m->compiled[server_side])) == NULL)
            rc = ns_last_status();
    }
    ns_options_unlock(o);
    return rc;
}

const ns_options *ns_options_for(const ns_options *o, ns_options_kind kind, ns_options **owned)
{
    *owned = NULL;
    if (o != NULL && (kind == NS_SOCKET_OPTIONS || ns_options_has_field(o, KINDS_TLS)))
        return o;
    *owned = o ? ns_options_copy(o, kind) : ns_options_new(kind);
    return *owned;
}

ns_options_kind ns_options_kind_of(const ns_options *o) { return o ? o->kind : 0; }
int ns_options_is_socket(const ns_options *o) { return o != NULL; }
int ns_options_is_tls(const ns_options *o)
{
    return o != NULL && ns_options_has_field(o, KINDS_TLS);
}
int ns_options_is_server_tls(const ns_options *o)
{
    return o != NULL && ns_options_has_field(o, KINDS_SERVER);
}

/* ---- saved sessions ---- */

static void clear_loaded(ns_options *o)
{
    for (size_t i = 0; i < o->loaded_count; i++)
        ns_session_entry_clear(&o->loaded[i]);
    free(o->loaded);
    o->loaded = NULL;
    o->loaded_count = 0;
}

/* Keeps e (taken over) until the client configuration is built. */
static int keep_loaded(ns_options *o, ns_session_entry *e)
{
    if (o->loaded_count == NS_SESSIONS_MAX) {
        ns_session_entry_clear(&o->loaded[0]);
        memmove(o->loaded, o->loaded + 1, --o->loaded_count * sizeof *o->loaded);
    }
    ns_session_entry *more = realloc(o->loaded, (o->loaded_count + 1) * sizeof *more);
    if (more == NULL) {
        ns_session_entry_clear(e);
        return ns_fail(NS_ERR_NOMEM, ENOMEM, "session: out of memory");
    }
    o->loaded = more;
    o->loaded[o->loaded_count++] = *e;
    return NS_OK;
}

int ns_options_add_session(ns_options *o, const void *data, size_t len)
{
    ns_session_entry e;
    int rc = ns_options_settable(o, KINDS_TLS, "session");
    if (rc != NS_OK || (rc = ns_session_parse(data, len, &e)) != NS_OK)
        return rc;
    uint8_t digest[32];
    ns_options_lock(o);
    ns_tls_config_digest(o, digest);
    if (!o->session_resumption)
        rc = ns_fail(NS_ERR_INVALID, 0, "session: session-resumption? is off in these options");
    else if (CRYPTO_memcmp(digest, e.digest, sizeof digest) != 0)
        rc = ns_fail(NS_ERR_INVALID, 0,
                     "session: saved with another ALPN list or client identity than these "
                     "options have");
    if (rc != NS_OK)
        ns_session_entry_clear(&e);
    else if (o->compiled[0] != NULL)
        ns_session_adopt(o->compiled[0], &e, 1);
    else
        rc = keep_loaded(o, &e);
    return ns_options_end(o, rc, 0);
}
