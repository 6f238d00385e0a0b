/* Client sessions: a small cache per compiled configuration (so a changed
 * trust store, verifier, identity or ALPN list never resumes an old
 * session), keyed by the peer's name and service; TLS 1.3 tickets are used
 * once; sessions saved as bytes and loaded into options. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "internal.h"
#include "ticket_keys.h"

/* A saved session: magic, key, configuration digest, BoringSSL's encoding,
 * and a SHA-256 of all that before it (refuses corrupt blobs, not forgeries). */
static const char MAGIC[8] = {'N', 'S', 'S', 'E', 'S', 'S', '1', '\n'};

static void cache_drop(ns_tls_config *c, size_t i)
{
    free(c->sessions[i].key);
    SSL_SESSION_free(c->sessions[i].session);
    memmove(&c->sessions[i], &c->sessions[i + 1], (c->session_count - i - 1) * sizeof c->sessions[0]);
    c->session_count--;
}

/* Adds session (reference taken over) under key, dropping the oldest if full. */
static void cache_put(ns_tls_config *c, const char *key, SSL_SESSION *session)
{
    char *k = strdup(key);
    if (k == NULL) {
        SSL_SESSION_free(session);
        return; /* no memory: simply not cached */
    }
    pthread_mutex_lock(&c->session_lock);
    if (c->session_count == NS_SESSIONS_MAX)
        cache_drop(c, 0);
    c->sessions[c->session_count++] = (ns_session_entry){k, session};
    pthread_mutex_unlock(&c->session_lock);
}

void ns_session_cache_clear(ns_tls_config *c)
{
    while (c->session_count > 0)
        cache_drop(c, c->session_count - 1);
}

static int new_session(SSL *ssl, SSL_SESSION *session)
{
    ns_socket *s = SSL_get_app_data(ssl);
    if (s == NULL || s->session_key == NULL || !SSL_SESSION_is_resumable(session))
        return 0;
    SSL_SESSION_free(s->last_session);
    SSL_SESSION_up_ref(session);
    s->last_session = session;
    cache_put(s->tls_config, s->session_key, session);
    return 1; /* the reference is ours */
}

/* Servers: seals a ticket with the current key of the socket's
 * configuration, or opens one with the key it names (ticket_keys.c). */
static int seal_or_open(SSL *ssl, uint8_t name[16], uint8_t iv[16], EVP_CIPHER_CTX *cipher,
                        HMAC_CTX *hmac, int seal)
{
    ns_socket *s = SSL_get_app_data(ssl);
    if (s == NULL || s->tls_config == NULL || s->tls_config->ticket_keys == NULL)
        return seal ? -1 : 0;
    ns_ticket_key k;
    int rc = ns_ticket_keys_get(s->tls_config->ticket_keys, ns_now_us() / 1000000,
                                seal ? NULL : name, &k);
    if (rc <= 0)
        return seal ? -1 : 0; /* opening: an unknown key, a full handshake */
    if (seal) {
        memcpy(name, k.name, sizeof k.name);
        if (!RAND_bytes(iv, 16))
            rc = -1;
    }
    int ok = rc > 0 &&
             (seal ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), NULL, k.aes, iv)
                   : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), NULL, k.aes, iv)) &&
             HMAC_Init_ex(hmac, k.hmac, sizeof k.hmac, EVP_sha256(), NULL);
    OPENSSL_cleanse(&k, sizeof k);
    return ok ? rc : -1;
}

void ns_session_install(SSL_CTX *ctx, int server_side, int resumption)
{
    /* Lifetimes: see SECURITY.md ("Session resumption"). */
    SSL_CTX_set_timeout(ctx, NS_SESSION_LIFETIME);
    SSL_CTX_set_session_psk_dhe_timeout(ctx, NS_SESSION_LIFETIME);
    if (server_side) {
        /* Stateless tickets only: no server-side cache to grow. */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_session_id_context(ctx, (const uint8_t *)"netsocket", 9);
        if (!resumption) {
            SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
            SSL_CTX_set_num_tickets(ctx, 0);
        } else {
            SSL_CTX_set_tlsext_ticket_key_cb(ctx, seal_or_open);
        }
        return;
    }
    if (resumption) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
        SSL_CTX_sess_set_new_cb(ctx, new_session);
    } else {
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    }
}

int ns_session_offer(ns_socket *s, const char *name, const char *service)
{
    ns_tls_config *c = s->tls_config;
    if (!c->resumption)
        return NS_OK;
    size_t n = strlen(name) + strlen(service) + 2;
    if ((s->session_key = malloc(n)) == NULL)
        return ns_fail(NS_ERR_NOMEM, ENOMEM, "TLS with %s: out of memory", s->peer_label);
    snprintf(s->session_key, n, "%s\n%s", name, service);
    SSL_SESSION *offer = NULL;
    pthread_mutex_lock(&c->session_lock);
    for (size_t i = c->session_count; i-- > 0;) {
        if (strcmp(c->sessions[i].key, s->session_key) != 0)
            continue;
        offer = c->sessions[i].session;
        SSL_SESSION_up_ref(offer);
        if (SSL_SESSION_should_be_single_use(offer)) /* TLS 1.3 tickets */
            cache_drop(c, i);
        break;
    }
    pthread_mutex_unlock(&c->session_lock);
    int ok = offer == NULL || SSL_set_session(s->ssl, offer);
    SSL_SESSION_free(offer);
    return ok ? NS_OK : ns_fail_ssl(NS_ERR_NOMEM, "TLS with %s: out of memory", s->peer_label);
}

int ns_socket_session_reused(const ns_socket *s)
{
    return s != NULL && s->ssl != NULL && s->handshake_done && SSL_session_reused(s->ssl);
}

static void put_u32(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}
static size_t get_u32(const uint8_t *p)
{
    return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
}

ssize_t ns_socket_save_session(ns_socket *s, void *buf, size_t len)
{
    NS_CHECK_HANDLE(s, "save-session");
    if (s->ssl == NULL || s->role != NS_ROLE_CLIENT)
        return ns_fail(NS_ERR_INVALID, 0, "save-session: not a TLS client socket");
    SSL_SESSION *session = s->last_session;
    if (session == NULL && s->handshake_done && SSL_SESSION_is_resumable(SSL_get_session(s->ssl)))
        session = SSL_get_session(s->ssl); /* TLS 1.2: the handshake's session */
    if (session == NULL || s->session_key == NULL)
        return ns_fail(NS_ERR_INVALID, 0,
                       "save-session with %s: no resumable session (resumption off, or no "
                       "ticket yet: TLS 1.3 tickets arrive with the first data received)",
                       s->peer_label);
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (!SSL_SESSION_to_bytes(session, &der, &der_len))
        return ns_fail_ssl(NS_ERR_NOMEM, "save-session: out of memory");
    size_t key_len = strlen(s->session_key);
    size_t need = sizeof MAGIC + 4 + key_len + SHA256_DIGEST_LENGTH + 4 + der_len + SHA256_DIGEST_LENGTH;
    if (buf != NULL && len >= need) {
        uint8_t *p = buf;
        memcpy(p, MAGIC, sizeof MAGIC), p += sizeof MAGIC;
        put_u32(p, key_len), p += 4;
        memcpy(p, s->session_key, key_len), p += key_len;
        memcpy(p, s->tls_config->digest, SHA256_DIGEST_LENGTH), p += SHA256_DIGEST_LENGTH;
        put_u32(p, der_len), p += 4;
        memcpy(p, der, der_len), p += der_len;
        SHA256(buf, (size_t)(p - (uint8_t *)buf), p);
    }
    OPENSSL_free(der);
    return (ssize_t)need;
}

/* Checks a blob's framing; on success points at its parts. */
static int parse_blob(const uint8_t *p, size_t len, const uint8_t **key, size_t *key_len,
                      const uint8_t **digest, const uint8_t **der, size_t *der_len)
{
    size_t fixed = sizeof MAGIC + 4 + SHA256_DIGEST_LENGTH + 4 + SHA256_DIGEST_LENGTH;
    uint8_t sum[SHA256_DIGEST_LENGTH];
    if (p == NULL || len < fixed || memcmp(p, MAGIC, sizeof MAGIC) != 0)
        return ns_fail(NS_ERR_INVALID, 0, "session: not a saved netsocket session");
    *key_len = get_u32(p + sizeof MAGIC);
    if (*key_len == 0 || *key_len > len - fixed)
        return ns_fail(NS_ERR_INVALID, 0, "session: corrupt (bad length)");
    *key = p + sizeof MAGIC + 4;
    *digest = *key + *key_len;
    *der_len = get_u32(*digest + SHA256_DIGEST_LENGTH);
    *der = *digest + SHA256_DIGEST_LENGTH + 4;
    if (*der_len != len - fixed - *key_len)
        return ns_fail(NS_ERR_INVALID, 0, "session: corrupt (bad length)");
    SHA256(p, len - SHA256_DIGEST_LENGTH, sum);
    if (CRYPTO_memcmp(sum, p + len - SHA256_DIGEST_LENGTH, sizeof sum) != 0)
        return ns_fail(NS_ERR_INVALID, 0, "session: corrupt (checksum mismatch)");
    if (memchr(*key, '\0', *key_len) != NULL)
        return ns_fail(NS_ERR_INVALID, 0, "session: corrupt (bad peer name)");
    return NS_OK;
}

void ns_session_entry_clear(ns_session_entry *e)
{
    free(e->key);
    SSL_SESSION_free(e->session);
    memset(e, 0, sizeof *e);
}

int ns_session_parse(const void *data, size_t len, ns_session_entry *e)
{
    const uint8_t *key = NULL, *digest = NULL, *der = NULL;
    size_t key_len = 0, der_len = 0;
    memset(e, 0, sizeof *e);
    int rc = parse_blob(data, len, &key, &key_len, &digest, &der, &der_len);
    if (rc != NS_OK)
        return rc;
    /* BoringSSL parses a session for a context (its certificate methods);
     * any client context will do. */
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    if (ctx == NULL)
        return ns_fail_ssl(NS_ERR_NOMEM, "session: out of memory");
    e->session = SSL_SESSION_from_bytes(der, der_len, ctx);
    SSL_CTX_free(ctx);
    if (e->session == NULL)
        return ns_fail_ssl(NS_ERR_INVALID, "session: BoringSSL refused the session");
    if (!SSL_SESSION_is_resumable(e->session)) {
        ns_session_entry_clear(e);
        return ns_fail(NS_ERR_INVALID, 0, "session: not resumable");
    }
    if ((e->key = malloc(key_len + 1)) == NULL) {
        ns_session_entry_clear(e);
        return ns_fail(NS_ERR_NOMEM, ENOMEM, "session: out of memory");
    }
    memcpy(e->key, key, key_len);
    e->key[key_len] = '\0';
    memcpy(e->digest, digest, sizeof e->digest);
    return NS_OK;
}

void ns_session_adopt(ns_tls_config *c, ns_session_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (CRYPTO_memcmp(e[i].digest, c->digest, sizeof c->digest) == 0) {
            cache_put(c, e[i].key, e[i].session);
            e[i].session = NULL; /* taken over */
        }
        ns_session_entry_clear(&e[i]);
    }
}
