/* Server identities: certificate chains with their keys, each served to
 * clients asking (by SNI) for one of its names; the options' own certificates
 * and key are the default.  A set is immutable once built and shared by
 * reference count; a listening socket's current set can be replaced while it
 * runs (rotation), and each accepted connection keeps the set it started
 * with, so a handshake never sees half of a swap. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "internal.h"

void ns_identity_clear(ns_identity *id)
{
    ns_certlist_clear(&id->chain);
    EVP_PKEY_free(id->key);
    ns_strlist_clear(&id->names);
    memset(id, 0, sizeof *id);
}

int ns_identity_copy(ns_identity *dst, const ns_identity *src)
{
    memset(dst, 0, sizeof *dst);
    if (ns_certlist_copy(&dst->chain, &src->chain) != NS_OK ||
        ns_strlist_copy(&dst->names, &src->names) != NS_OK) {
        ns_identity_clear(dst);
        return ns_fail(NS_ERR_NOMEM, ENOMEM, "identity: out of memory");
    }
    EVP_PKEY_up_ref(src->key);
    dst->key = src->key;
    dst->explicit_names = src->explicit_names;
    return NS_OK;
}

/* The DNS names of cert's subjectAltName, appended to names. */
static int certificate_names(X509 *cert, ns_strlist *names)
{
    GENERAL_NAMES *san = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    int rc = NS_OK;
    for (size_t i = 0; san && i < sk_GENERAL_NAME_num(san) && rc == NS_OK; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);
        if (g->type != GEN_DNS)
            continue;
        const unsigned char *p = ASN1_STRING_get0_data(g->d.dNSName);
        int len = ASN1_STRING_length(g->d.dNSName);
        char name[256];
        if (len <= 0 || len >= (int)sizeof name || memchr(p, '\0', (size_t)len))
            continue; /* not a name a client can ask for */
        memcpy(name, p, (size_t)len);
        name[len] = '\0';
        rc = ns_strlist_add(names, name);
    }
    GENERAL_NAMES_free(san);
    ERR_clear_error();
    return rc;
}

int ns_identity_parse(ns_identity *id, const void *chain, size_t chain_len, const void *key,
                      size_t key_len, const ns_password *pw)
{
    memset(id, 0, sizeof *id);
    if (key == NULL || key_len == 0)
        return ns_fail(NS_ERR_INVALID, 0, "identity: a private key is required");
    int rc = ns_certs_parse(chain, chain_len, "identity", &id->chain);
    if (rc == NS_OK)
        rc = ns_key_parse(key, key_len, pw, "identity", &id->key);
    int match = rc == NS_OK ? ns_key_matches(id->key, id->chain.items[0].x509) : 1;
    if (match == 0)
        rc = ns_fail(NS_ERR_INVALID, 0,
                     "identity: the private key does not match the first certificate");
    else if (match < 0)
        rc = match;
    if (rc == NS_OK)
        rc = certificate_names(id->chain.items[0].x509, &id->names);
    if (rc != NS_OK)
        ns_identity_clear(id);
    return rc;
}

/* ---- sets ---- */

struct ns_identity_set {
    ns_ref refs;
    ns_identity def;
    ns_identity *items;
    size_t count;
};

ns_identity_set *ns_identity_set_ref(ns_identity_set *s)
{
    if (s)
        ns_ref_get(&s->refs);
    return s;
}

void ns_identity_set_unref(ns_identity_set *s)
{
    if (s == NULL || !ns_ref_put(&s->refs))
        return;
    ns_identity_clear(&s->def);
    for (size_t i = 0; i < s->count; i++)
        ns_identity_clear(&s->items[i]);
    free(s->items);
    free(s);
}

ns_identity_set *ns_identity_set_build(const ns_options *o)
{
    if (o->certificates.count == 0 || o->private_key == NULL) {
        ns_fail(NS_ERR_INVALID, 0,
                "TLS server: certificates and a private key (the default identity) are required");
        return NULL;
    }
    for (size_t i = 0; i < o->identity_count; i++)
        if (o->identities[i].names.count == 0) {
            ns_fail(NS_ERR_INVALID, 0,
                    "identity %zu: its certificate names no DNS name and none was given", i);
            return NULL;
        }
    ns_identity_set *s = calloc(1, sizeof *s);
    if (s == NULL || (o->identity_count &&
                      (s->items = calloc(o->identity_count, sizeof *s->items)) == NULL)) {
        free(s);
        ns_fail(NS_ERR_NOMEM, ENOMEM, "TLS server: out of memory for the identities");
        return NULL;
    }
    ns_ref_init(&s->refs, 1);
    int rc = ns_certlist_copy(&s->def.chain, &o->certificates);
    EVP_PKEY_up_ref(o->private_key);
    s->def.key = o->private_key;
    for (size_t i = 0; i < o->identity_count && rc == NS_OK; i++, s->count++)
        rc = ns_identity_copy(&s->items[i], &o->identities[i]);
    if (rc != NS_OK) {
        ns_identity_set_unref(s);
        ns_fail(NS_ERR_NOMEM, ENOMEM, "TLS server: out of memory for the identities");
        return NULL;
    }
    return s;
}

/* name matches pattern as a certificate's name would: case-insensitively,
 * with a leading "*." matching exactly one whole label. */
static int name_matches(const char *pattern, const char *name)
{
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *dot = strchr(name, '.');
        return dot && dot != name && strcasecmp(dot + 1, pattern + 2) == 0;
    }
    return strcasecmp(pattern, name) == 0;
}

/* The identity for name: an exact name first, then a wildcard; -1 = the default. */
static int pick(const ns_identity_set *s, const char *name)
{
    if (name == NULL)
        return -1;
    for (int wild = 0; wild < 2; wild++)
        for (size_t i = 0; i < s->count; i++)
            for (size_t j = 0; j < s->items[i].names.count; j++) {
                const char *p = s->items[i].names.items[j];
                if ((p[0] == '*') == wild && name_matches(p, name))
                    return (int)i;
            }
    return -1;
}

/* BoringSSL's certificate callback, after the ClientHello (ECH already
 * decrypted, so the name is the real one). */
static int select_identity(SSL *ssl, void *arg)
{
    ns_socket *s = SSL_get_app_data(ssl);
    const ns_identity_set *set = s ? s->identities : NULL;
    if (set == NULL)
        return 1;
    int i = pick(set, SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
    s->identity_index = i;
    /* The context already holds the default of the set it was built with. */
    if (i < 0 && set == s->tls_config->identities)
        return 1;
    const ns_identity *id = i < 0 ? &set->def : &set->items[i];
    if (!SSL_use_certificate(ssl, id->chain.items[0].x509))
        return 0;
    STACK_OF(X509) *chain = sk_X509_new_null();
    int ok = chain != NULL;
    for (size_t j = 1; ok && j < id->chain.count; j++)
        ok = sk_X509_push(chain, id->chain.items[j].x509) != 0;
    ok = ok && SSL_set1_chain(ssl, chain) && SSL_use_PrivateKey(ssl, id->key);
    sk_X509_free(chain); /* SSL_set1_chain took its own references */
    return ok;
}

void ns_identities_install(SSL_CTX *ctx)
{
    SSL_CTX_set_cert_cb(ctx, select_identity, NULL);
}

/* The server's current set: a short spin lock guards the pointer and the
 * reference taken on it (rotation and accept only). */
static void spin_lock(int *l)
{
    while (__atomic_test_and_set(l, __ATOMIC_ACQUIRE))
        ;
}
static void spin_unlock(int *l) { __atomic_clear(l, __ATOMIC_RELEASE); }

ns_identity_set *ns_identities_current(ns_socket *server)
{
    spin_lock(&server->identities_lock);
    ns_identity_set *s = ns_identity_set_ref(server->identities);
    spin_unlock(&server->identities_lock);
    return s;
}

int ns_socket_replace_identities(ns_socket *server, const ns_options *o)
{
    NS_CHECK_HANDLE(server, "ns_socket_replace_identities");
    if (server->role != NS_ROLE_SERVER || server->tls_config == NULL)
        return ns_fail(NS_ERR_INVALID, 0,
                       "ns_socket_replace_identities: not a listening TLS server socket");
    if (!ns_options_is_server_tls(o))
        return ns_fail(NS_ERR_INVALID, 0,
                       "ns_socket_replace_identities: server-tls-socket-options required");
    ns_identity_set *fresh = ns_options_identity_set(o);
    if (fresh == NULL)
        return ns_last_status();
    spin_lock(&server->identities_lock);
    ns_identity_set *old = server->identities;
    server->identities = fresh;
    spin_unlock(&server->identities_lock);
    ns_identity_set_unref(old);
    return NS_OK;
}

int ns_socket_identity_index(const ns_socket *s)
{
    return s && s->ssl && s->handshake_done && s->role == NS_ROLE_ACCEPTED ? s->identity_index
                                                                            : -1;
}
