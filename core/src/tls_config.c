/* What an options object compiles to: the BoringSSL context and what the
 * sockets made from it need besides, built once and shared. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "internal.h"
#include "ticket_keys.h"

/* What a saved session must have been made with: the ALPN list and the
 * client identity (trust and verifier are checked again on resumption). */
void ns_tls_config_digest(const ns_options *o, uint8_t out[32])
{
    SHA256_CTX h;
    SHA256_Init(&h);
    for (size_t i = 0; i < o->alpn.count; i++)
        SHA256_Update(&h, o->alpn.items[i], strlen(o->alpn.items[i]) + 1);
    SHA256_Update(&h, "", 1);
    if (o->certificates.count > 0)
        SHA256_Update(&h, o->certificates.items[0].der, o->certificates.items[0].der_len);
    SHA256_Final(out, &h);
}

ns_tls_config *ns_tls_config_build(const ns_options *o, int server_side)
{
    if (server_side && (o->certificates.count == 0 || o->private_key == NULL)) {
        ns_fail(NS_ERR_INVALID, 0, "TLS server: certificates and a private key are required");
        return NULL;
    }
    ns_tls_config *c = calloc(1, sizeof *c);
    if (c == NULL) {
        ns_fail(NS_ERR_NOMEM, ENOMEM, "TLS: out of memory for the configuration");
        return NULL;
    }
    ns_ref_init(&c->refs, 1);
    c->server_side = server_side;
    c->resumption = o->session_resumption;
    pthread_mutex_init(&c->session_lock, NULL);
    if (!server_side)
        ns_tls_config_digest(o, c->digest);
    c->verifier = ns_verifier_ref(o->verifier);
    c->key_log = ns_key_log_ref(o->key_log);
    if ((c->ctx = ns_tls_context_new(o, server_side)) == NULL)
        goto fail;
    if (!server_side && o->sni.count > 0 && (c->sni = strdup(o->sni.items[0])) == NULL)
        goto nomem;
    if (!server_side && o->ech_config_list_len > 0) {
        if ((c->ech_config_list = malloc(o->ech_config_list_len)) == NULL)
            goto nomem;
        memcpy(c->ech_config_list, o->ech_config_list, o->ech_config_list_len);
        c->ech_config_list_len = o->ech_config_list_len;
    }
    c->ech_grease = o->ech_grease;
    if (server_side && ns_strlist_copy(&c->alpn, &o->alpn) != NS_OK)
        goto fail;
    if (server_side && (c->identities = ns_identity_set_build(o)) == NULL)
        goto fail;
    if (server_side && o->session_resumption &&
        (c->ticket_keys = ns_ticket_keys_new(NS_SESSION_LIFETIME)) == NULL)
        goto nomem;
    return c;
nomem:
    ns_fail(NS_ERR_NOMEM, ENOMEM, "TLS: out of memory for the configuration");
fail:
    ns_tls_config_unref(c);
    return NULL;
}

ns_tls_config *ns_tls_config_ref(ns_tls_config *c)
{
    if (c)
        ns_ref_get(&c->refs);
    return c;
}

void ns_tls_config_unref(ns_tls_config *c)
{
    if (c == NULL || !ns_ref_put(&c->refs))
        return;
    ns_session_cache_clear(c);
    ns_verdicts_clear(c);
    pthread_mutex_destroy(&c->session_lock);
    SSL_CTX_free(c->ctx);
    ns_verifier_unref(c->verifier);
    ns_key_log_unref(c->key_log);
    free(c->sni);
    free(c->ech_config_list);
    ns_identity_set_unref(c->identities);
    ns_ticket_keys_free(c->ticket_keys);
    ns_strlist_clear(&c->alpn);
    free(c);
}
