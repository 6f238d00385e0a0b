/* Verdicts: the peer chains a configuration verified clean, so that a
 * resumed connection presenting the same chain for the same name skips
 * only the signature arithmetic of building and checking it again.  The
 * validity periods and the user's verifier still run every time
 * (verify.c); see SECURITY.md ("Session resumption"). */
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "internal.h"

struct ns_verdict {
    ns_ref refs;
    uint8_t key[32];
    STACK_OF(X509) *chain; /* verified: the peer's certificates up to the trust anchor */
};

void ns_verdict_unref(ns_verdict *v)
{
    if (v == NULL || !ns_ref_put(&v->refs))
        return;
    sk_X509_pop_free(v->chain, X509_free);
    free(v);
}

STACK_OF(X509) *ns_verdict_chain(const ns_verdict *v)
{
    return v->chain;
}

int ns_verdict_key(const ns_socket *s, uint8_t out[32])
{
    const STACK_OF(CRYPTO_BUFFER) *certs = SSL_get0_peer_certificates(s->ssl);
    if (certs == NULL || sk_CRYPTO_BUFFER_num(certs) == 0)
        return 0;
    /* What the library's checks depend on besides the configuration: the
     * side, the name checked (clients), and every certificate's bytes. */
    SHA256_CTX h;
    SHA256_Init(&h);
    uint8_t role = s->role == NS_ROLE_CLIENT;
    SHA256_Update(&h, &role, 1);
    const char *name = s->session_key ? s->session_key : "";
    SHA256_Update(&h, name, strlen(name) + 1);
    for (size_t i = 0; i < sk_CRYPTO_BUFFER_num(certs); i++) {
        const CRYPTO_BUFFER *b = sk_CRYPTO_BUFFER_value(certs, i);
        uint8_t len[8];
        uint64_t n = CRYPTO_BUFFER_len(b);
        for (int k = 0; k < 8; k++)
            len[k] = (uint8_t)(n >> (8 * k));
        SHA256_Update(&h, len, sizeof len);
        SHA256_Update(&h, CRYPTO_BUFFER_data(b), CRYPTO_BUFFER_len(b));
    }
    SHA256_Final(out, &h);
    return 1;
}

ns_verdict *ns_verdict_find(ns_tls_config *c, const uint8_t key[32])
{
    ns_verdict *found = NULL;
    pthread_mutex_lock(&c->session_lock);
    for (size_t i = 0; i < c->verdict_count && found == NULL; i++) {
        if (memcmp(c->verdicts[i]->key, key, 32) == 0) {
            found = c->verdicts[i];
            ns_ref_get(&found->refs);
        }
    }
    pthread_mutex_unlock(&c->session_lock);
    return found;
}

void ns_verdict_put(ns_tls_config *c, const uint8_t key[32], STACK_OF(X509) *verified)
{
    ns_verdict *v = calloc(1, sizeof *v);
    if (v == NULL || (v->chain = X509_chain_up_ref(verified)) == NULL) {
        free(v);
        return; /* no memory: simply not remembered */
    }
    ns_ref_init(&v->refs, 1);
    memcpy(v->key, key, 32);
    ns_verdict *old = NULL;
    pthread_mutex_lock(&c->session_lock);
    if (c->verdict_count == NS_VERDICTS_MAX) {
        old = c->verdicts[0];
        memmove(&c->verdicts[0], &c->verdicts[1], (NS_VERDICTS_MAX - 1) * sizeof c->verdicts[0]);
        c->verdict_count--;
    }
    c->verdicts[c->verdict_count++] = v;
    pthread_mutex_unlock(&c->session_lock);
    ns_verdict_unref(old);
}

void ns_verdicts_clear(ns_tls_config *c)
{
    while (c->verdict_count > 0)
        ns_verdict_unref(c->verdicts[--c->verdict_count]);
}
