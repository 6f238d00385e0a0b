/* Encrypted Client Hello (BoringSSL's draft-13 ECH): a server's ECH keys and
 * the ECHConfigList it publishes; a client's ECHConfigList and GREASE; the
 * outcome of a handshake (accepted, or rejected with retry configs). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/hpke.h>

#include "internal.h"

/* The retry configs of this thread's last ECH rejection (an ECHConfigList
 * is a few hundred bytes; a larger one is reported as absent). */
static __thread uint8_t last_retry[4096];
static __thread size_t last_retry_len;

typedef struct {
    uint8_t key[EVP_HPKE_MAX_PRIVATE_KEY_LENGTH];
    size_t key_len;
    uint8_t *config;
    size_t config_len;
    int retry;
} ech_entry;

struct ns_ech_keys {
    ns_ref refs;
    ech_entry *items;
    size_t count;
    SSL_ECH_KEYS *keys;   /* immutable once built */
    uint8_t *published;   /* the retry configs as an ECHConfigList */
    size_t published_len;
};

ns_ech_keys *ns_ech_keys_ref(ns_ech_keys *k)
{
    if (k)
        ns_ref_get(&k->refs);
    return k;
}

void ns_ech_keys_unref(ns_ech_keys *k)
{
    if (k == NULL || !ns_ref_put(&k->refs))
        return;
    for (size_t i = 0; i < k->count; i++) {
        OPENSSL_cleanse(k->items[i].key, sizeof k->items[i].key);
        free(k->items[i].config);
    }
    free(k->items);
    SSL_ECH_KEYS_free(k->keys);
    OPENSSL_free(k->published);
    free(k);
}

/* Adds entry e to keys; records why not. */
static int keys_add(SSL_ECH_KEYS *keys, const ech_entry *e)
{
    EVP_HPKE_KEY hpke;
    EVP_HPKE_KEY_zero(&hpke);
    if (!EVP_HPKE_KEY_init(&hpke, EVP_hpke_x25519_hkdf_sha256(), e->key, e->key_len))
        return ns_fail_ssl(NS_ERR_INVALID, "ech-keys: not an X25519 private key (32 bytes)");
    int ok = SSL_ECH_KEYS_add(keys, e->retry, e->config, e->config_len, &hpke);
    EVP_HPKE_KEY_cleanup(&hpke);
    if (!ok)
        return ns_fail_ssl(NS_ERR_INVALID,
                           "ech-keys: the ECHConfig does not parse or does not match the key");
    return NS_OK;
}

/* A new holder: old's entries (if any) then e, built and checked. */
static int keys_with(const ns_ech_keys *old, const ech_entry *e, ns_ech_keys **out)
{
    ns_ech_keys *k = calloc(1, sizeof *k);
    size_t n = (old ? old->count : 0) + 1;
    if (k == NULL || (k->items = calloc(n, sizeof *k->items)) == NULL ||
        (k->keys = SSL_ECH_KEYS_new()) == NULL) {
        if (k)
            free(k->items);
        free(k);
        return ns_fail(NS_ERR_NOMEM, ENOMEM, "ech-keys: out of memory");
    }
    ns_ref_init(&k->refs, 1);
    int rc = NS_OK, any_retry = 0;
    for (size_t i = 0; i < n && rc == NS_OK; i++) {
        const ech_entry *src = i + 1 < n ? &old->items[i] : e;
        ech_entry *dst = &k->items[i];
        *dst = *src;
        dst->config = malloc(src->config_len);
        if (dst->config == NULL) {
            rc = ns_fail(NS_ERR_NOMEM, ENOMEM, "ech-keys: out of memory");
            break;
        }
        memcpy(dst->config, src->config, src->config_len);
        k->count++;
        any_retry |= src->retry;
        rc = keys_add(k->keys, dst);
    }
    if (rc == NS_OK && !any_retry)
        rc = ns_fail(NS_ERR_INVALID, 0,
                     "ech-keys: no key is a retry config, so there is nothing to publish");
    if (rc == NS_OK &&
        !SSL_ECH_KEYS_marshal_retry_configs(k->keys, &k->published, &k->published_len))
        rc = ns_fail_ssl(NS_ERR_NOMEM, "ech-keys: cannot encode the ECHConfigList");
    if (rc != NS_OK) {
        ns_ech_keys_unref(k);
        return rc;
    }
    *out = k;
    return NS_OK;
}

int ns_ech_keys_add(ns_ech_keys **keys, const void *key, size_t key_len, const void *config,
                    size_t config_len, int retry)
{
    if (key == NULL || key_len == 0 || key_len > EVP_HPKE_MAX_PRIVATE_KEY_LENGTH)
        return ns_fail(NS_ERR_INVALID, 0, "ech-keys: not an X25519 private key (32 bytes)");
    if (config == NULL || config_len == 0 || config_len > 65535)
        return ns_fail(NS_ERR_INVALID, 0, "ech-keys: empty or oversized ECHConfig");
    ech_entry e = {.key_len = key_len, .config = (uint8_t *)config, .config_len = config_len,
                   .retry = retry != 0};
    memcpy(e.key, key, key_len);
    ns_ech_keys *k = NULL;
    int rc = keys_with(*keys, &e, &k);
    OPENSSL_cleanse(e.key, sizeof e.key);
    if (rc != NS_OK)
        return rc;
    ns_ech_keys_unref(*keys);
    *keys = k;
    return NS_OK;
}

int ns_ech_keys_generate(ns_ech_keys **keys, const char *public_name, int config_id)
{
    if (config_id < 0 || config_id > 255)
        return ns_fail(NS_ERR_INVALID, 0, "ech-keys: config id %d is not 0..255", config_id);
    if (public_name == NULL || public_name[0] == '\0' || strlen(public_name) > 255)
        return ns_fail(NS_ERR_INVALID, 0, "ech-keys: the public name must be 1..255 bytes");
    EVP_HPKE_KEY hpke;
    EVP_HPKE_KEY_zero(&hpke);
    uint8_t priv[EVP_HPKE_MAX_PRIVATE_KEY_LENGTH], *config = NULL;
    size_t priv_len = 0, config_len = 0;
    int rc = NS_OK;
    if (!EVP_HPKE_KEY_generate(&hpke, EVP_hpke_x25519_hkdf_sha256()) ||
        !EVP_HPKE_KEY_private_key(&hpke, priv, &priv_len, sizeof priv))
        rc = ns_fail_ssl(NS_ERR_NOMEM, "ech-keys: cannot generate a key");
    else if (!SSL_marshal_ech_config(&config, &config_len, (uint8_t)config_id, &hpke,
                                     public_name, 0))
        rc = ns_fail_ssl(NS_ERR_INVALID, "ech-keys: cannot use the public name \"%s\"",
                         public_name);
    EVP_HPKE_KEY_cleanup(&hpke);
    if (rc == NS_OK)
        rc = ns_ech_keys_add(keys, priv, priv_len, config, config_len, 1);
    OPENSSL_cleanse(priv, sizeof priv);
    OPENSSL_free(config);
    return rc;
}

size_t ns_ech_keys_count(const ns_ech_keys *k) { return k ? k->count : 0; }

const uint8_t *ns_ech_keys_published(const ns_ech_keys *k, size_t *len)
{
    *len = k ? k->published_len : 0;
    return k ? k->published : NULL;
}

int ns_ech_server_install(SSL_CTX *ctx, const ns_ech_keys *k)
{
    if (k && !SSL_CTX_set1_ech_keys(ctx, k->keys))
        return ns_fail_ssl(NS_ERR_NOMEM, "TLS: cannot use the ECH keys");
    return NS_OK;
}

int ns_ech_check_config_list(const void *data, size_t len)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    int rc = NS_OK;
    if (ssl == NULL)
        rc = ns_fail_ssl(NS_ERR_NOMEM, "ech-config-list: out of memory");
    else if (!SSL_set1_ech_config_list(ssl, data, len))
        rc = ns_fail_ssl(NS_ERR_INVALID, "ech-config-list: not a valid ECHConfigList");
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return rc;
}

int ns_ech_client_start(SSL *ssl, const ns_tls_config *c, const char *peer)
{
    if (c->ech_grease)
        SSL_set_enable_ech_grease(ssl, 1);
    if (c->ech_config_list_len > 0 &&
        !SSL_set1_ech_config_list(ssl, c->ech_config_list, c->ech_config_list_len))
        return ns_fail_ssl(NS_ERR_NOMEM, "TLS with %s: cannot offer ECH", peer);
    return NS_OK;
}

int ns_ech_rejected(ns_socket *s, char *msg, size_t len)
{
    const uint8_t *retry = NULL;
    size_t retry_len = 0;
    SSL_get0_ech_retry_configs(s->ssl, &retry, &retry_len);
    last_retry_len = 0;
    free(s->ech_retry);
    s->ech_retry = NULL;
    s->ech_retry_len = 0;
    if (retry_len > 0 && retry_len <= sizeof last_retry) {
        memcpy(last_retry, retry, retry_len);
        last_retry_len = retry_len;
        if ((s->ech_retry = malloc(retry_len)) != NULL) {
            memcpy(s->ech_retry, retry, retry_len);
            s->ech_retry_len = retry_len;
        }
    }
    snprintf(msg, len, retry_len > 0 ? "the server rejected ECH and sent retry configs: "
                                       "retry with them (ns_last_ech_retry_configs)"
                                     : "the server rejected ECH and sent no retry configs: "
                                       "it has turned ECH off");
    return NS_ERR_TLS;
}

const unsigned char *ns_last_ech_retry_configs(size_t *len)
{
    if (len)
        *len = last_retry_len;
    return last_retry_len ? last_retry : NULL;
}

const unsigned char *ns_socket_ech_retry_configs(const ns_socket *s, size_t *len)
{
    if (len)
        *len = s && s->ech_retry ? s->ech_retry_len : 0;
    return s ? s->ech_retry : NULL;
}

int ns_socket_ech_accepted(const ns_socket *s)
{
    return s && s->ssl && s->handshake_done && SSL_ech_accepted(s->ssl);
}
