/* Fuzz target: random sequences of option setters, getters, clears and
 * copies on two options objects (client and server TLS kinds), with
 * invariants: counts match the getters, and an owned verifier's release
 * runs exactly once per object that took it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsocket.h"

typedef struct {
    const uint8_t *p;
    size_t left;
} input;

static uint8_t byte(input *in)
{
    if (in->left == 0)
        return 0;
    in->left--;
    return *in->p++;
}

static int64_t i64(input *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | byte(in);
    return (int64_t)v;
}

/* A length-prefixed slice of the input. */
static const uint8_t *slice(input *in, size_t *len)
{
    size_t n = byte(in);
    n = n << 8 | byte(in);
    if (n > in->left)
        n = in->left;
    const uint8_t *p = in->p;
    in->p += n;
    in->left -= n;
    *len = n;
    return p;
}

static int accept_all(void *ud, int depth, int err, const unsigned char *der, size_t len)
{
    return 1;
}

static int released, owned;
static void release(void *ud)
{
    released++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in = {data, size};
    ns_options *o[2] = {ns_options_new(NS_TLS_SOCKET_OPTIONS),
                        ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS)};
    released = owned = 0;
    for (int steps = 0; in.left > 0 && steps < 256; steps++) {
        uint8_t op = byte(&in);
        ns_options *t = o[op & 1];
        size_t len;
        const uint8_t *p;
        char name[300];
        switch ((op >> 1) % 26) {
        case 0: ns_options_set_ai_family(t, (int8_t)byte(&in)); break;
        case 1: ns_options_set_ai_socktype(t, (int8_t)byte(&in)); break;
        case 2: ns_options_set_ai_flags(t, (int)i64(&in)); break;
        case 3: ns_options_set_ai_protocol(t, (int8_t)byte(&in)); break;
        case 4: ns_options_set_non_blocking(t, byte(&in)); break;
        case 5: ns_options_set_connection_timeout(t, i64(&in)); break;
        case 6: ns_options_set_read_timeout(t, i64(&in)); break;
        case 7: ns_options_set_handshake(t, byte(&in)); break;
        case 8: p = slice(&in, &len); ns_options_set_private_key(t, p, len); break;
        case 9: p = slice(&in, &len); ns_options_add_certificate(t, p, len); break;
        case 10: ns_options_clear_certificates(t); break;
        case 11: p = slice(&in, &len); ns_options_add_trusted_certificate(t, p, len); break;
        case 12: ns_options_clear_trusted_certificates(t); break;
        case 13: ns_options_set_certificate_verifier(t, byte(&in) & 1 ? accept_all : NULL, NULL); break;
        case 14:
            owned++;
            ns_options_set_certificate_verifier_owned(t, byte(&in) & 1 ? accept_all : NULL, NULL,
                                                      release);
            break;
        case 15:
        case 16:
            p = slice(&in, &len);
            len = len < sizeof name - 1 ? len : sizeof name - 1;
            memcpy(name, p, len);
            name[len] = '\0';
            if ((op >> 1) % 26 == 15)
                ns_options_add_sni(t, name);
            else
                ns_options_add_alpn(t, name);
            break;
        case 17: ns_options_clear_sni(t); break;
        case 18: ns_options_clear_alpn(t); break;
        case 19: ns_options_set_client_certificate_required(t, byte(&in)); break;
        case 20: {
            ns_options *c = ns_options_copy(o[!(op & 1)], (ns_options_kind)(1 + byte(&in) % 3));
            if (c) {
                ns_options_free(t);
                o[op & 1] = c;
            }
            break;
        }
        case 21: ns_options_get_certificate(t, byte(&in), &len); break;
        case 22: ns_options_get_sni(t, byte(&in)); ns_options_get_alpn(t, byte(&in)); break;
        case 23: ns_options_get_trusted_certificate(t, byte(&in), &len); break;
        case 24: ns_options_set_private_key_file(t, "/nonexistent/key.pem"); break;
        default: ns_options_set_certificate_verifier(t, NULL, NULL); break;
        }
        for (int k = 0; k < 2; k++) {
            ns_options *x = o[k];
            for (size_t i = 0; i < ns_options_sni_count(x); i++)
                if (ns_options_get_sni(x, i) == NULL || strlen(ns_options_get_sni(x, i)) > 255)
                    __builtin_trap();
            if (ns_options_get_certificate(x, ns_options_certificate_count(x), NULL) != NULL)
                __builtin_trap();
        }
    }
    ns_options_free(o[0]);
    ns_options_free(o[1]);
    if (released != owned) /* every owned userdata released exactly once */
        __builtin_trap();
    return 0;
}
