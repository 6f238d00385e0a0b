/* Peer certificate verification: the library's chain and host name checks,
 * and the user's certificate verifier, whose verdict replaces the library's
 * for each certificate. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "internal.h"

static int verify_callback(int preverify_ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    ns_socket *s = ssl ? SSL_get_app_data(ssl) : NULL;
    if (s == NULL) /* cannot happen (ssl_attach checks); fail closed */
        return 0;
    int depth = X509_STORE_CTX_get_error_depth(store);
    int err = preverify_ok ? X509_V_OK : X509_STORE_CTX_get_error(store);
    int ok = preverify_ok;
    if (s->verifier) {
        X509 *cert = X509_STORE_CTX_get_current_cert(store);
        uint8_t *der = NULL;
        int len = cert ? i2d_X509(cert, &der) : -1;
        ok = len > 0 && s->verifier->fn(s->verifier->userdata, depth, err, der, (size_t)len) != 0;
        OPENSSL_free(der);
        if (ok) {
            X509_STORE_CTX_set_error(store, X509_V_OK);
        } else {
            s->verifier_rejected = 1;
            if (err == X509_V_OK)
                X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
        }
    }
    if (!ok && s->verify_error_failed == X509_V_OK) {
        s->verify_depth_failed = depth;
        s->verify_error_failed = err != X509_V_OK ? err : X509_V_ERR_APPLICATION_VERIFICATION;
        if (err == X509_V_ERR_HOSTNAME_MISMATCH || err == X509_V_ERR_IP_ADDRESS_MISMATCH)
            ns_verify_note_names(s, X509_STORE_CTX_get_current_cert(store));
    }
    return ok;
}

void ns_verify_install(SSL_CTX *ctx, int server_side, int require_peer_cert)
{
    int mode = SSL_VERIFY_PEER;
    if (server_side && require_peer_cert)
        mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, verify_callback);
}

static int is_ip_literal(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

int ns_verify_set_host(SSL *ssl, const char *host)
{
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    /* This BoringSSL treats namelen 0 as invalid, not "use strlen": pass it. */
    int ok = is_ip_literal(host) ? X509_VERIFY_PARAM_set1_ip_asc(param, host)
                                 : X509_VERIFY_PARAM_set1_host(param, host, strlen(host));
    /* host is a non-empty, NUL-free name or a parsed IP literal: only an
     * allocation can fail here. */
    if (!ok)
        return ns_fail_ssl(NS_ERR_NOMEM, "TLS: cannot check the host name \"%s\"", host);
    return NS_OK;
}

int ns_verify_wants_sni(const char *host)
{
    return host != NULL && !is_ip_literal(host);
}

int ns_verify_failure_status(ns_socket *s, char *msg, size_t len)
{
    if (s->verify_error_failed == X509_V_OK)
        return NS_OK;
    int code = s->verify_error_failed;
    if (s->verifier_rejected)
        snprintf(msg, len, "the certificate verifier rejected the certificate at depth %d (%s)",
                 s->verify_depth_failed, X509_verify_cert_error_string(code));
    else if (code == X509_V_ERR_HOSTNAME_MISMATCH || code == X509_V_ERR_IP_ADDRESS_MISMATCH)
        snprintf(msg, len, "certificate rejected at depth %d: %s: expected \"%s\", the certificate "
                 "holds %s", s->verify_depth_failed, X509_verify_cert_error_string(code),
                 s->tls_config && s->tls_config->sni ? s->tls_config->sni
                                                     : s->node ? s->node : "?",
                 s->verify_names);
    else
        snprintf(msg, len, "certificate rejected at depth %d: %s", s->verify_depth_failed,
                 X509_verify_cert_error_string(code));
    return NS_ERR_CERTIFICATE;
}

int ns_verify_resumed(ns_socket *s)
{
    int server = s->role != NS_ROLE_CLIENT;
    int mode = SSL_get_verify_mode(s->ssl);
    if (server && !(mode & SSL_VERIFY_PEER))
        return NS_OK;
    STACK_OF(X509) *chain = SSL_get_peer_full_cert_chain(s->ssl);
    if (chain == NULL || sk_X509_num(chain) == 0) {
        if (server && !(mode & SSL_VERIFY_FAIL_IF_NO_PEER_CERT))
            return NS_OK;
        return ns_fail_io(s, NS_ERR_CERTIFICATE, 0, "TLS handshake with",
                          server ? "the client sent no certificate, but one is required"
                                 : "the resumed session holds no server certificate");
    }
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok = ctx != NULL &&
             X509_STORE_CTX_init(ctx, SSL_CTX_get_cert_store(s->ctx), sk_X509_value(chain, 0),
                                 chain) &&
             X509_STORE_CTX_set_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx(), s->ssl) &&
             X509_STORE_CTX_set_default(ctx, server ? "ssl_client" : "ssl_server") &&
             X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(ctx), SSL_get0_param(s->ssl));
    if (!ok) {
        X509_STORE_CTX_free(ctx);
        return ns_fail_ssl(NS_ERR_NOMEM, "TLS handshake with %s: out of memory", s->peer_label);
    }
    X509_STORE_CTX_set_verify_cb(ctx, verify_callback);
    ok = X509_verify_cert(ctx) > 0;
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    char msg[384];
    if (!ok && ns_verify_failure_status(s, msg, sizeof msg) != NS_OK)
        return ns_fail_io(s, NS_ERR_CERTIFICATE, 0, "TLS handshake with", msg);
    return ok ? NS_OK : ns_fail_io(s, NS_ERR_CERTIFICATE, 0, "TLS handshake with",
                                   "the resumed session's certificate was rejected");
}
