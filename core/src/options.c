/* Options objects: the three kinds, their fields, defaults and validation,
 * and the consistent snapshot a socket is opened from.
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

#include "internal.h"

/* Which kinds have a field: bit (1 << kind). */
#define KINDS_ALL ((1u << NS_SOCKET_OPTIONS) | (1u << NS_TLS_SOCKET_OPTIONS) | (1u << NS_SERVER_TLS_SOCKET_OPTIONS))
#define KINDS_TLS ((1u << NS_TLS_SOCKET_OPTIONS) | (1u << NS_SERVER_TLS_SOCKET_OPTIONS))
#define KINDS_SERVER (1u << NS_SERVER_TLS_SOCKET_OPTIONS)
#define KINDS_CLIENT (1u << NS_TLS_SOCKET_OPTIONS)

static const char *kind_name(ns_options_kind kind)
{
    switch (kind) {
    case NS_SOCKET_OPTIONS: return "socket-options";
    case NS_TLS_SOCKET_OPTIONS: return "tls-socket-options";
    case NS_SERVER_TLS_SOCKET_OPTIONS: return "server-tls-socket-options";
    }
    return "unknown options";
}

static int has_field(const ns_options *o, unsigned kinds)
{
    return (kinds & (1u << o->kind)) != 0;
}

/* The guard of every setter: a handle, and a kind that has the field. */
static int settable(const ns_options *o, unsigned kinds, const char *field)
{
    if (o == NULL)
        return ns_fail(NS_ERR_INVALID, 0, "setting %s: NULL options", field);
    if (!has_field(o, kinds))
        return ns_fail(NS_ERR_INVALID, 0, "%s is not a field of %s", field, kind_name(o->kind));
    return NS_OK;
}

/* The object's lock: the options are logically const to a constructor, but
 * it may build and cache the compiled configuration. */
static void lock(const ns_options *o) { pthread_mutex_lock((pthread_mutex_t *)&o->lock); }
static void unlock(const ns_options *o) { pthread_mutex_unlock((pthread_mutex_t *)&o->lock); }

static void drop_compiled(ns_options *o)
{
    for (int side = 0; side < 2; side++) {
        ns_tls_config_unref(o->compiled[side]);
        o->compiled[side] = NULL;
    }
}

static void clear_loaded(ns_options *o);

/* A setter's guard that also takes the lock (held only if NS_OK). */
static int begin(ns_options *o, unsigned kinds, const char *field)
{
    int rc = settable(o, kinds, field);
    if (rc == NS_OK)
        lock(o);
    return rc;
}

/* A setter's end: a successful change of what TLS compiles (tls) drops the
 * compiled configuration; the lock is released. */
static int end(ns_options *o, int rc, int tls)
{
    if (rc == NS_OK && tls)
        drop_compiled(o);
    unlock(o);
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
    if (has_field(o, KINDS_TLS) && has_field(from, KINDS_TLS)) {
        o->handshake = from->handshake;
        o->ech_grease = from->ech_grease;
        o->ignore_unexpected_eof = from->ignore_unexpected_eof;
        o->session_resumption = from->session_resumption;
    }
    if (has_field(o, KINDS_SERVER) && has_field(from, KINDS_SERVER))
        o->client_certificate_required = from->client_certificate_required;
}

/* Copies from's fields into the new object o (from is locked). */
static int copy_fields(ns_options *o, const ns_options *from)
{
    copy_scalars(o, from);
    if (!has_field(o, KINDS_TLS) || !has_field(from, KINDS_TLS))
        return NS_OK;
    if (from->private_key) {
        EVP_PKEY_up_ref(from->private_key);
        o->private_key = from->private_key;
    }
    o->verifier = ns_verifier_ref(from->verifier);
    o->password_fn = from->password_fn;
    o->password_userdata = from->password_userdata;
    o->key_log = ns_key_log_ref(from->key_log);
    if (has_field(o, KINDS_SERVER) && has_field(from, KINDS_SERVER)) {
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
        (has_field(o, KINDS_CLIENT) && ns_strlist_copy(&o->sni, &from->sni) != NS_OK) ||
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
    lock(from);
    int rc = copy_fields(o, from);
    unlock(from);
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
    lock(o);
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
    unlock(o);
    return rc;
}

const ns_options *ns_options_for(const ns_options *o, ns_options_kind kind, ns_options **owned)
{
    *owned = NULL;
    if (o != NULL && (kind == NS_SOCKET_OPTIONS || has_field(o, KINDS_TLS)))
        return o;
    *owned = o ? ns_options_copy(o, kind) : ns_options_new(kind);
    return *owned;
}

ns_options_kind ns_options_kind_of(const ns_options *o) { return o ? o->kind : 0; }
int ns_options_is_socket(const ns_options *o) { return o != NULL; }
int ns_options_is_tls(const ns_options *o) { return o != NULL && has_field(o, KINDS_TLS); }
int ns_options_is_server_tls(const ns_options *o) { return o != NULL && has_field(o, KINDS_SERVER); }

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
        int rc = settable(o, kinds, seed);                                               \
        if (rc != NS_OK)                                                                 \
            return rc;                                                                   \
        if (!check(v))                                                                   \
            return ns_fail(NS_ERR_INVALID, 0, "%s: unsupported value %d", seed, v);      \
        lock(o);                                                                         \
        o->name = v;                                                                     \
        return end(o, NS_OK, tls);                                                       \
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
    int rc = begin(o, KINDS_ALL, "connection-timeout");
    if (rc != NS_OK)
        return rc;
    o->connection_timeout = us < 0 ? -1 : us;
    return end(o, NS_OK, 0);
}
int64_t ns_options_get_connection_timeout(const ns_options *o)
{
    return o ? o->connection_timeout : -1;
}

int ns_options_set_read_timeout(ns_options *o, int64_t us)
{
    int rc = begin(o, KINDS_ALL, "read-timeout");
    if (rc != NS_OK)
        return rc;
    o->read_timeout = us < 0 ? -1 : us;
    return end(o, NS_OK, 0);
}
int64_t ns_options_get_read_timeout(const ns_options *o) { return o ? o->read_timeout : -1; }

int ns_options_set_write_timeout(ns_options *o, int64_t us)
{
    int rc = begin(o, KINDS_ALL, "write-timeout");
    if (rc != NS_OK)
        return rc;
    o->write_timeout = us < 0 ? -1 : us;
    return end(o, NS_OK, 0);
}
int64_t ns_options_get_write_timeout(const ns_options *o) { return o ? o->write_timeout : -1; }

/* ---- private key and certificates ---- */

/* Sets the private key from data, with the password in pw. */
static int set_key(ns_options *o, const void *data, size_t len, const ns_password *pw)
{
    int rc = settable(o, KINDS_TLS, "private-key");
    EVP_PKEY *key = NULL;
    if (rc != NS_OK || (rc = ns_key_parse(data, len, pw, "private-key", &key)) != NS_OK)
        return rc;
    lock(o);
    int match = o->certificates.count > 0 ? ns_key_matches(key, o->certificates.items[0].x509) : 1;
    if (match != 1) {
        EVP_PKEY_free(key);
        return end(o,
                   match < 0 ? match
                             : ns_fail(NS_ERR_INVALID, 0,
                                       "private-key: the key does not match the first certificate"),
                   1);
    }
    EVP_PKEY_free(o->private_key);
    o->private_key = key;
    return end(o, NS_OK, 1);
}

/* The password given, or else the options' callback. */
static ns_password password_of(const ns_options *o, const void *password, size_t len)
{
    if (password != NULL)
        return (ns_password){.data = password, .len = len};
    return (ns_password){.fn = o ? o->password_fn : NULL,
                         .userdata = o ? o->password_userdata : NULL};
}

int ns_options_set_private_key(ns_options *o, const void *data, size_t len)
{
    ns_password pw = password_of(o, NULL, 0);
    return set_key(o, data, len, &pw);
}

int ns_options_set_private_key_with_password(ns_options *o, const void *data, size_t len,
                                             const void *password, size_t password_len)
{
    ns_password pw = password_of(o, password, password_len);
    return set_key(o, data, len, &pw);
}

/* Key and certificates from a PKCS#12 bundle, replacing both at once. */
static int set_pkcs12(ns_options *o, const void *data, size_t len, const ns_password *pw)
{
    int rc = settable(o, KINDS_TLS, "pkcs12");
    EVP_PKEY *key = NULL;
    ns_certlist chain = {0};
    if (rc != NS_OK || (rc = ns_pkcs12_parse(data, len, pw, &key, &chain)) != NS_OK)
        return rc;
    lock(o);
    EVP_PKEY_free(o->private_key);
    o->private_key = key;
    ns_certlist_clear(&o->certificates);
    o->certificates = chain;
    return end(o, NS_OK, 1);
}

int ns_options_set_pkcs12(ns_options *o, const void *data, size_t len, const void *password,
                          size_t password_len)
{
    ns_password pw = password_of(o, password, password_len);
    return set_pkcs12(o, data, len, &pw);
}

/* Reads path (wiped after use: it may hold a key) and hands it to set. */
static int load_file(ns_options *o, const char *path, const char *field, unsigned kinds,
                     const ns_password *pw,
                     int (*set)(ns_options *, const void *, size_t, const ns_password *))
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = settable(o, kinds, field);
    if (rc != NS_OK || (rc = ns_read_file(path, field, &data, &len)) != NS_OK)
        return rc;
    rc = set(o, data, len, pw);
    OPENSSL_cleanse(data, len);
    free(data);
    return rc;
}

int ns_options_set_pkcs12_file(ns_options *o, const char *path, const void *password,
                               size_t password_len)
{
    ns_password pw = password_of(o, password, password_len);
    return load_file(o, path, "pkcs12", KINDS_TLS, &pw, set_pkcs12);
}

int ns_options_set_private_key_file_with_password(ns_options *o, const char *path,
                                                  const void *password, size_t password_len)
{
    ns_password pw = password_of(o, password, password_len);
    return load_file(o, path, "private-key", KINDS_TLS, &pw, set_key);
}

int ns_options_set_password_callback(ns_options *o, ns_password_callback fn, void *userdata)
{
    int rc = begin(o, KINDS_TLS, "password-callback");
    if (rc != NS_OK)
        return rc;
    o->password_fn = fn;
    o->password_userdata = fn ? userdata : NULL;
    return end(o, NS_OK, 0); /* used while a key is parsed, not compiled */
}

ns_password_callback ns_options_get_password_callback(const ns_options *o, void **userdata)
{
    if (userdata)
        *userdata = o ? o->password_userdata : NULL;
    return o ? o->password_fn : NULL;
}

/* Certificate lists take no password: adapts their setters to load_file. */
static int set_certs(ns_options *o, const void *data, size_t len, const ns_password *pw)
{
    return ns_options_add_certificate(o, data, len);
}
static int set_trusted(ns_options *o, const void *data, size_t len, const ns_password *pw)
{
    return ns_options_add_trusted_certificate(o, data, len);
}

int ns_options_set_private_key_file(ns_options *o, const char *path)
{
    ns_password pw = password_of(o, NULL, 0);
    return load_file(o, path, "private-key", KINDS_TLS, &pw, set_key);
}

int ns_options_has_private_key(const ns_options *o) { return o && o->private_key != NULL; }

int ns_options_add_certificate(ns_options *o, const void *data, size_t len)
{
    ns_certlist parsed = {0};
    int rc = settable(o, KINDS_TLS, "certificates");
    if (rc != NS_OK || (rc = ns_certs_parse(data, len, "certificates", &parsed)) != NS_OK)
        return rc;
    lock(o);
    int match = o->certificates.count == 0 && o->private_key
                    ? ns_key_matches(o->private_key, parsed.items[0].x509)
                    : 1;
    if (match < 0)
        rc = match;
    else if (match == 0)
        rc = ns_fail(NS_ERR_INVALID, 0,
                     "certificates: the certificate does not match the private key");
    if (rc == NS_OK)
        rc = ns_certlist_append(&o->certificates, &parsed);
    ns_certlist_clear(&parsed);
    return end(o, rc, 1);
}

int ns_options_add_certificate_file(ns_options *o, const char *path)
{
    return load_file(o, path, "certificates", KINDS_TLS, NULL, set_certs);
}

int ns_options_clear_certificates(ns_options *o)
{
    int rc = begin(o, KINDS_TLS, "certificates");
    if (rc != NS_OK)
        return rc;
    ns_certlist_clear(&o->certificates);
    return end(o, NS_OK, 1);
}

static const unsigned char *certlist_der(const ns_options *o, const ns_certlist *l, size_t i,
                                         size_t *der_len)
{
    if (o == NULL || i >= l->count) {
        if (der_len)
            *der_len = 0;
        return NULL;
    }
    if (der_len)
        *der_len = l->items[i].der_len;
    return l->items[i].der;
}

size_t ns_options_certificate_count(const ns_options *o)
{
    return o ? o->certificates.count : 0;
}
const unsigned char *ns_options_get_certificate(const ns_options *o, size_t i, size_t *der_len)
{
    return certlist_der(o, o ? &o->certificates : NULL, i, der_len);
}

int ns_options_add_trusted_certificate(ns_options *o, const void *data, size_t len)
{
    ns_certlist parsed = {0};
    int rc = settable(o, KINDS_TLS, "trusted-certificates");
    if (rc != NS_OK || (rc = ns_certs_parse(data, len, "trusted-certificates", &parsed)) != NS_OK)
        return rc;
    lock(o);
    rc = ns_certlist_append(&o->trusted, &parsed);
    ns_certlist_clear(&parsed);
    return end(o, rc, 1);
}

int ns_options_add_trusted_certificate_file(ns_options *o, const char *path)
{
    return load_file(o, path, "trusted-certificates", KINDS_TLS, NULL, set_trusted);
}

int ns_options_clear_trusted_certificates(ns_options *o)
{
    int rc = begin(o, KINDS_TLS, "trusted-certificates");
    if (rc != NS_OK)
        return rc;
    ns_certlist_clear(&o->trusted);
    return end(o, NS_OK, 1);
}

size_t ns_options_trusted_certificate_count(const ns_options *o)
{
    return o ? o->trusted.count : 0;
}
const unsigned char *ns_options_get_trusted_certificate(const ns_options *o, size_t i,
                                                        size_t *der_len)
{
    return certlist_der(o, o ? &o->trusted : NULL, i, der_len);
}

/* ---- the verifier ---- */

ns_verifier *ns_verifier_ref(ns_verifier *v)
{
    if (v)
        ns_ref_get(&v->refs);
    return v;
}

void ns_verifier_unref(ns_verifier *v)
{
    if (v == NULL || !ns_ref_put(&v->refs))
        return;
    if (v->release)
        v->release(v->userdata);
    free(v);
}

int ns_options_set_certificate_verifier_owned(ns_options *o, ns_certificate_verifier fn,
                                              void *userdata, ns_release_function release)
{
    int rc = settable(o, KINDS_TLS, "certificate-verifier");
    ns_verifier *v = NULL;
    if (rc == NS_OK && fn != NULL) {
        v = malloc(sizeof *v);
        if (v == NULL)
            rc = ns_fail(NS_ERR_NOMEM, ENOMEM, "certificate-verifier: out of memory");
    }
    if (rc != NS_OK) {
        if (release)
            release(userdata);
        return rc;
    }
    if (v) {
        ns_ref_init(&v->refs, 1);
        v->fn = fn;
        v->userdata = userdata;
        v->release = release;
    } else if (release) {
        release(userdata); /* removing: nothing keeps userdata */
    }
    lock(o);
    ns_verifier *old = o->verifier;
    o->verifier = v;
    end(o, NS_OK, 1);
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
    int rc = settable(o, kinds, field);
    if (rc != NS_OK)
        return rc;
    if (name == NULL || name[0] == '\0')
        return ns_fail(NS_ERR_INVALID, 0, "%s: empty name", field);
    if (strlen(name) > 255)
        return ns_fail(NS_ERR_INVALID, 0, "%s: name longer than 255 bytes", field);
    lock(o);
    return end(o, ns_strlist_add(l, name), 1);
}

static int clear_names(ns_options *o, unsigned kinds, ns_strlist *l, const char *field)
{
    int rc = begin(o, kinds, field);
    if (rc != NS_OK)
        return rc;
    ns_strlist_clear(l);
    return end(o, NS_OK, 1);
}

static const char *name_at(const ns_strlist *l, size_t i)
{
    return i < l->count ? l->items[i] : NULL;
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
    return o ? name_at(&o->sni, i) : NULL;
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
    return o ? name_at(&o->alpn, i) : NULL;
}

/* ---- the key log ---- */

/* Replaces the key log (k's reference taken over); the old one is released
 * outside the lock, as a binding's release may take its own. */
static void set_key_log(ns_options *o, ns_key_log *k)
{
    lock(o);
    ns_key_log *old = o->key_log;
    o->key_log = k;
    end(o, NS_OK, 1);
    ns_key_log_unref(old);
}

int ns_options_set_key_log_file(ns_options *o, const char *path)
{
    int rc = settable(o, KINDS_TLS, "key-log");
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
    int rc = settable(o, KINDS_TLS, "key-log");
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
    int rc = begin(o, KINDS_SERVER, "ech-keys");
    if (rc != NS_OK)
        return rc;
    return end(o, ns_ech_keys_add(&o->ech_keys, key, key_len, config, config_len, retry), 1);
}

int ns_options_generate_ech_key(ns_options *o, const char *public_name, int config_id)
{
    int rc = begin(o, KINDS_SERVER, "ech-keys");
    if (rc != NS_OK)
        return rc;
    return end(o, ns_ech_keys_generate(&o->ech_keys, public_name, config_id), 1);
}

int ns_options_clear_ech_keys(ns_options *o)
{
    int rc = begin(o, KINDS_SERVER, "ech-keys");
    if (rc != NS_OK)
        return rc;
    ns_ech_keys_unref(o->ech_keys);
    o->ech_keys = NULL;
    return end(o, NS_OK, 1);
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
    int rc = settable(o, KINDS_TLS, "ech-config-list");
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
    lock(o);
    free(o->ech_config_list);
    o->ech_config_list = copy;
    o->ech_config_list_len = copy ? len : 0;
    return end(o, NS_OK, 1);
}

const unsigned char *ns_options_get_ech_config_list(const ns_options *o, size_t *len)
{
    if (len)
        *len = o ? o->ech_config_list_len : 0;
    return o ? o->ech_config_list : NULL;
}

/* ---- server identities ---- */

int ns_options_add_identity(ns_options *o, const void *chain, size_t chain_len, const void *key,
                            size_t key_len)
{
    int rc = settable(o, KINDS_SERVER, "identities");
    if (rc != NS_OK)
        return rc;
    ns_identity id;
    ns_password pw = password_of(o, NULL, 0);
    if ((rc = ns_identity_parse(&id, chain, chain_len, key, key_len, &pw)) != NS_OK)
        return rc;
    lock(o);
    ns_identity *items = realloc(o->identities, (o->identity_count + 1) * sizeof *items);
    if (items == NULL) {
        ns_identity_clear(&id);
        return end(o, ns_fail(NS_ERR_NOMEM, ENOMEM, "identities: out of memory"), 1);
    }
    o->identities = items;
    items[o->identity_count++] = id;
    return end(o, NS_OK, 1);
}

int ns_options_add_identity_name(ns_options *o, size_t i, const char *name)
{
    int rc = settable(o, KINDS_SERVER, "identities");
    if (rc != NS_OK)
        return rc;
    if (i >= o->identity_count)
        return ns_fail(NS_ERR_INVALID, 0, "identities: no identity %zu (there are %zu)", i,
                       o->identity_count);
    if (name == NULL || name[0] == '\0' || strlen(name) > 255)
        return ns_fail(NS_ERR_INVALID, 0, "identities: a name is 1..255 bytes");
    lock(o);
    ns_identity *id = &o->identities[i];
    if (!id->explicit_names) { /* the first name given replaces the certificate's */
        ns_strlist_clear(&id->names);
        id->explicit_names = 1;
    }
    return end(o, ns_strlist_add(&id->names, name), 1);
}

int ns_options_clear_identities(ns_options *o)
{
    int rc = begin(o, KINDS_SERVER, "identities");
    if (rc != NS_OK)
        return rc;
    for (size_t i = 0; i < o->identity_count; i++)
        ns_identity_clear(&o->identities[i]);
    free(o->identities);
    o->identities = NULL;
    o->identity_count = 0;
    return end(o, NS_OK, 1);
}

size_t ns_options_identity_count(const ns_options *o) { return o ? o->identity_count : 0; }

size_t ns_options_identity_name_count(const ns_options *o, size_t i)
{
    return o && i < o->identity_count ? o->identities[i].names.count : 0;
}

const char *ns_options_get_identity_name(const ns_options *o, size_t i, size_t j)
{
    return o && i < o->identity_count ? name_at(&o->identities[i].names, j) : NULL;
}

const unsigned char *ns_options_get_identity_certificate(const ns_options *o, size_t i, size_t j,
                                                         size_t *der_len)
{
    const ns_certlist *l = o && i < o->identity_count ? &o->identities[i].chain : NULL;
    return certlist_der(l ? o : NULL, l, j, der_len);
}

ns_identity_set *ns_options_identity_set(const ns_options *o)
{
    lock(o);
    ns_identity_set *s = ns_identity_set_build(o);
    unlock(o);
    return s;
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
    int rc = settable(o, KINDS_TLS, "session");
    if (rc != NS_OK || (rc = ns_session_parse(data, len, &e)) != NS_OK)
        return rc;
    uint8_t digest[32];
    lock(o);
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
    return end(o, rc, 0);
}
