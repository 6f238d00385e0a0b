/* BoringSSL contexts built from options: versions, own certificate and key,
 * trust anchors, verification mode and ALPN. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "internal.h"

#define NS_SYSTEM_CERT_DIR "/etc/ssl/certs"

/* TLS 1.2 suites, in the server's order of preference: ECDHE key exchange
 * (forward secrecy) with AEAD ciphers only, Mozilla's "intermediate"
 * list.  No static RSA, no CBC, no SHA-1 MACs, no 3DES (SWEET32).  TLS 1.3
 * suites are all AEAD with ephemeral key exchange and need no list. */
#define NS_TLS12_CIPHERS                                                              \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                      \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                      \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* ALPN names in wire format (length-prefixed), as both sides need them. */
static int alpn_wire(const ns_strlist *names, uint8_t **out, size_t *out_len)
{
    size_t len = 0;
    for (size_t i = 0; i < names->count; i++)
        len += 1 + strlen(names->items[i]);
    uint8_t *buf = OPENSSL_malloc(len ? len : 1);
    if (buf == NULL)
        return ns_fail(NS_ERR_NOMEM, ENOMEM, "TLS: out of memory for ALPN");
    size_t at = 0;
    for (size_t i = 0; i < names->count; i++) {
        size_t n = strlen(names->items[i]);
        buf[at++] = (uint8_t)n;
        memcpy(buf + at, names->items[i], n);
        at += n;
    }
    *out = buf;
    *out_len = len;
    return NS_OK;
}

/* Server: the first of our names (our preference) that the client offers. */
static int select_alpn(SSL *ssl, const uint8_t **out, uint8_t *out_len, const uint8_t *in,
                       unsigned in_len, void *arg)
{
    const ns_socket *s = SSL_get_app_data(ssl);
    const ns_strlist *ours = s && s->tls_config ? &s->tls_config->alpn : NULL;
    if (ours == NULL || ours->count == 0)
        return SSL_TLSEXT_ERR_NOACK;
    for (size_t i = 0; i < ours->count; i++) {
        size_t n = strlen(ours->items[i]);
        for (unsigned at = 0; at < in_len; at += 1u + in[at]) {
            if (in[at] == n && at + 1 + n <= in_len && memcmp(in + at + 1, ours->items[i], n) == 0) {
                *out = in + at + 1;
                *out_len = (uint8_t)n;
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL; /* no overlap: no_application_protocol */
}

/* Server: a client's SNI that is not a valid host name (control
 * characters, spaces, a forged log line) fails the handshake with the
 * alert unrecognized_name, as BoringSSL does for a name with a NUL byte;
 * so ns_socket_server_name never reports one. */
static int check_server_name(SSL *ssl, int *out_alert, void *arg)
{
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name == NULL || ns_is_host_name(name))
        return SSL_TLSEXT_ERR_OK;
    ns_socket *s = SSL_get_app_data(ssl);
    if (s)
        s->bad_server_name = 1;
    *out_alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int use_identity(SSL_CTX *ctx, const ns_options *o)
{
    if (o->certificates.count == 0 && o->private_key == NULL)
        return NS_OK;
    if (o->certificates.count == 0 || o->private_key == NULL)
        return ns_fail(NS_ERR_INVALID, 0,
                       "TLS: certificates and private-key must be given together");
    if (!SSL_CTX_use_certificate(ctx, o->certificates.items[0].x509))
        return ns_fail_ssl(NS_ERR_INVALID, "TLS: cannot use the certificate");
    for (size_t i = 1; i < o->certificates.count; i++)
        if (!SSL_CTX_add1_chain_cert(ctx, o->certificates.items[i].x509))
            return ns_fail_ssl(NS_ERR_NOMEM, "TLS: cannot add a chain certificate");
    if (!SSL_CTX_use_PrivateKey(ctx, o->private_key) || !SSL_CTX_check_private_key(ctx))
        return ns_fail_ssl(NS_ERR_INVALID, "TLS: cannot use the private key");
    return NS_OK;
}

static int use_trust(SSL_CTX *ctx, const ns_options *o, int server_side)
{
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    if (o->trusted.count == 0) {
        /* Servers with no trust anchors cannot verify clients; clients
         * fall back to the system store (hashed directory, looked up lazily). */
        if (!server_side && !X509_STORE_load_locations(store, NULL, NS_SYSTEM_CERT_DIR))
            return ns_fail_ssl(NS_ERR_TLS, "TLS: cannot use the system certificates in %s",
                               NS_SYSTEM_CERT_DIR);
        return NS_OK;
    }
    for (size_t i = 0; i < o->trusted.count; i++) {
        X509 *x = o->trusted.items[i].x509;
        if (!X509_STORE_add_cert(store, x)) {
            uint32_t e = ERR_peek_last_error();
            if (ERR_GET_REASON(e) != X509_R_CERT_ALREADY_IN_HASH_TABLE)
                return ns_fail_ssl(NS_ERR_NOMEM, "TLS: cannot add a trusted certificate");
            ERR_clear_error();
        }
        if (server_side && !SSL_CTX_add_client_CA(ctx, x))
            return ns_fail_ssl(NS_ERR_NOMEM, "TLS: cannot add a client CA name");
    }
    return NS_OK;
}

static int configure(SSL_CTX *ctx, const ns_options *o, int server_side)
{
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
        return ns_fail_ssl(NS_ERR_TLS, "TLS: cannot set the protocol versions");
    if (!SSL_CTX_set_strict_cipher_list(ctx, NS_TLS12_CIPHERS))
        return ns_fail_ssl(NS_ERR_NOMEM, "TLS: cannot set the cipher suites");
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    int rc = use_identity(ctx, o);
    if (rc == NS_OK)
        rc = use_trust(ctx, o, server_side);
    if (rc != NS_OK)
        return rc;
    if (server_side) {
        SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
        SSL_CTX_set_tlsext_servername_callback(ctx, check_server_name);
    }
    if (!server_side) {
        ns_verify_install(ctx, 0, 0);
    } else if (o->client_certificate_required || o->trusted.count > 0 || o->verifier) {
        ns_verify_install(ctx, 1, o->client_certificate_required);
    }
    if (o->alpn.count > 0 && server_side)
        SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
    if (server_side)
        ns_identities_install(ctx);
    ns_key_log_install(ctx, o->key_log);
    ns_session_install(ctx, server_side, o->session_resumption);
    if (server_side && (rc = ns_ech_server_install(ctx, o->ech_keys)) != NS_OK)
        return rc;
    if (o->alpn.count > 0 && !server_side) {
        uint8_t *wire = NULL;
        size_t len = 0;
        if ((rc = alpn_wire(&o->alpn, &wire, &len)) != NS_OK)
            return rc;
        /* Unlike most of the API, this returns 0 on success. */
        int bad = SSL_CTX_set_alpn_protos(ctx, wire, len);
        OPENSSL_free(wire);
        if (bad)
            return ns_fail_ssl(NS_ERR_NOMEM, "TLS: cannot set ALPN");
    }
    return NS_OK;
}

SSL_CTX *ns_tls_context_new(const ns_options *o, int server_side)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    if (ctx == NULL) {
        ns_fail_ssl(NS_ERR_NOMEM, "TLS: cannot create a context");
        return NULL;
    }
    if (configure(ctx, o, server_side) != NS_OK) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* A new SSL on s's descriptor with s as app data. */
static int ssl_attach(ns_socket *s)
{
    BIO *bio = ns_bio_new_fd(s->fd);
    s->ssl = bio ? SSL_new(s->ctx) : NULL;
    if (s->ssl == NULL) {
        BIO_free(bio);
        return ns_fail_ssl(NS_ERR_NOMEM, "TLS with %s: out of memory", s->peer_label);
    }
    SSL_set_bio(s->ssl, bio, bio); /* one reference, taken by ssl */
    /* App data is ex_data and may need an allocation: without it the
     * verify and ALPN callbacks could not find the socket. */
    if (!SSL_set_app_data(s->ssl, s))
        return ns_fail_ssl(NS_ERR_NOMEM, "TLS with %s: out of memory", s->peer_label);
    ns_tls_watch_alerts(s->ssl);
    return NS_OK;
}

int ns_tls_client_start(ns_socket *s, ns_tls_config *c, const char *node)
{
    s->tls_config = ns_tls_config_ref(c);
    SSL_CTX_up_ref(c->ctx);
    s->ctx = c->ctx;
    s->verifier = ns_verifier_ref(c->verifier);
    s->key_log = ns_key_log_ref(c->key_log);
    int rc = ssl_attach(s);
    if (rc != NS_OK)
        return rc;
    SSL_set_connect_state(s->ssl);
    if ((rc = ns_ech_client_start(s->ssl, c, s->peer_label)) != NS_OK)
        return rc;
    /* The name to check and to send: the first sni*, else node. */
    const char *name = c->sni ? c->sni : node;
    if ((rc = ns_verify_set_host(s->ssl, name)) != NS_OK)
        return rc;
    if (ns_verify_wants_sni(name) && !SSL_set_tlsext_host_name(s->ssl, name))
        return ns_fail_ssl(NS_ERR_INVALID, "TLS with %s: cannot send SNI \"%s\"", s->peer_label,
                           name);
    return ns_session_offer(s, name, s->service ? s->service : "");
}

void ns_tls_server_start(ns_socket *server, ns_tls_config *c)
{
    server->tls_config = ns_tls_config_ref(c);
    SSL_CTX_up_ref(c->ctx);
    server->ctx = c->ctx;
    server->verifier = ns_verifier_ref(c->verifier);
    server->key_log = ns_key_log_ref(c->key_log);
    server->identities = ns_identity_set_ref(c->identities);
}

int ns_tls_upgrade_server(ns_socket *s, ns_tls_config *c)
{
    ns_tls_server_start(s, c);
    s->identity_index = -1;
    int rc = ssl_attach(s);
    if (rc == NS_OK)
        SSL_set_accept_state(s->ssl);
    return rc;
}

int ns_tls_accept_start(ns_socket *server, ns_socket *conn)
{
    ns_tls_server_start(conn, server->tls_config);
    /* The identities current now, whatever a rotation does later. */
    ns_identity_set_unref(conn->identities);
    conn->identities = ns_identities_current(server);
    conn->identity_index = -1;
    conn->ignore_unexpected_eof = server->ignore_unexpected_eof;
    int rc = ssl_attach(conn);
    if (rc == NS_OK)
        SSL_set_accept_state(conn->ssl);
    return rc;
}
