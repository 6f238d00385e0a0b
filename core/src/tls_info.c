/* TLS queries about the peer and the negotiated parameters beyond the
 * leaf certificate (tls.c): the whole chain the peer sent, and the
 * key-exchange group. */
#include <openssl/ssl.h>

#include "internal.h"

/* The chain as BoringSSL keeps it (CRYPTO_BUFFERs, already DER: no copy),
 * or NULL when there is none to report. */
static const STACK_OF(CRYPTO_BUFFER) *peer_chain(const ns_socket *s)
{
    if (s == NULL || s->ssl == NULL || !s->handshake_done)
        return NULL;
    return SSL_get0_peer_certificates(s->ssl);
}

size_t ns_socket_peer_certificate_chain_count(ns_socket *s)
{
    const STACK_OF(CRYPTO_BUFFER) *chain = peer_chain(s);
    return chain ? sk_CRYPTO_BUFFER_num(chain) : 0;
}

const unsigned char *ns_socket_peer_certificate_chain_at(ns_socket *s, size_t i, size_t *der_len)
{
    const STACK_OF(CRYPTO_BUFFER) *chain = peer_chain(s);
    if (der_len)
        *der_len = 0;
    if (chain == NULL || i >= sk_CRYPTO_BUFFER_num(chain))
        return NULL;
    const CRYPTO_BUFFER *b = sk_CRYPTO_BUFFER_value(chain, i);
    if (der_len)
        *der_len = CRYPTO_BUFFER_len(b);
    return CRYPTO_BUFFER_data(b);
}

const char *ns_socket_key_exchange_group(const ns_socket *s)
{
    if (s == NULL || s->ssl == NULL || !s->handshake_done)
        return NULL;
    uint16_t id = SSL_get_curve_id(s->ssl);
    return id ? SSL_get_curve_name(id) : NULL;
}
