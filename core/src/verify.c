/* Peer certificate verification: the library's chain and host name checks,
 * and the user's certificate verifier, whose verdict replaces the library's
 * for each certificate. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "internal.h"

/* The verdict on one certificate of s's peer chain: the library's
 * (err, X509_V_OK if it found no fault), replaced by the user's verifier
 * if there is one; records the first failure for the message. */
static int judge(ns_socket *s, int depth, int err, X509 *cert)
{
    int ok = err == X509_V_OK;
    if (!ok)
        s->verify_library_error = 1;
    if (s->verifier) {
        uint8_t *der = NULL;
        int len = cert ? i2d_X509(cert, &der) : -1;
        ok = len > 0 && s->verifier->fn(s->verifier->userdata, depth, err, der, (size_t)len) != 0;
        OPENSSL_free(der);
        if (!ok)
            s->verifier_rejected = 1;
    }
    if (!ok && s->verify_error_failed == X509_V_OK) {
        s->verify_depth_failed = depth;
        s->verify_error_failed = err != X509_V_OK ? err : X509_V_ERR_APPLICATION_VERIFICATION;
        if (err == X509_V_ERR_HOSTNAME_MISMATCH || err == X509_V_ERR_IP_ADDRESS_MISMATCH)
            ns_verify_note_names(s, cert);
    }
    return ok;
}

static int verify_callback(int preverify_ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    ns_socket *s = ssl ? SSL_get_app_data(ssl) : NULL;
    if (s == NULL) /* cannot happen (ssl_attach checks); fail closed */
        return 0;
    int err = preverify_ok ? X509_V_OK : X509_STORE_CTX_get_error(store);
    int ok = judge(s, X509_STORE_CTX_get_error_depth(store), err,
                   X509_STORE_CTX_get_current_cert(store));
    if (s->verifier)
        X509_STORE_CTX_set_error(store, ok ? X509_V_OK
                                           : err != X509_V_OK ? err
                                                              : X509_V_ERR_APPLICATION_VERIFICATION);
    return ok;
}

void ns_verify_install(SSL_CTX *ctx, int server_side, int require_peer_cert)
{
    int mode = SSL_VERIFY_PEER;
    if (server_side && require_peer_cert)
        mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, verify_callback);
}

/*
 * The address host names, if the resolver would take it as a numeric
 * address: IPv4 in every form inet_aton accepts (127.1, 2130706433,
 * 0x7f.1 as well as 127.0.0.1), IPv6 with an optional %scope.  Such a host
 * is an IP literal everywhere: no SNI, and the certificate's IP addresses
 * are checked, never its DNS names.  Returns the address length (4 or 16),
 * or 0 for a name.
 */
static size_t ip_literal(const char *host, unsigned char out[16])
{
    /* inet_aton also accepts "127.1 anything"; getaddrinfo does not. */
    if (host[0] == '\0' || strpbrk(host, " \t\n\v\f\r") != NULL)
        return 0;
    struct in_addr v4;
    if (inet_aton(host, &v4) == 1) {
        memcpy(out, &v4, 4);
        return 4;
    }
    char v6[INET6_ADDRSTRLEN];
    size_t len = strcspn(host, "%");
    if (len >= sizeof v6)
        return 0;
    memcpy(v6, host, len);
    v6[len] = '\0';
    return inet_pton(AF_INET6, v6, out) == 1 ? 16 : 0;
}

int ns_verify_set_host(SSL *ssl, const char *host)
{
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    unsigned char ip[16];
    size_t ip_len = ip_literal(host, ip);
    /* Only the subjectAltName counts: a certificate whose subject CN alone
     * names the host is not accepted for it (RFC 6125, 6.4.4). */
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
    /* This BoringSSL treats namelen 0 as invalid, not "use strlen": pass it. */
    int ok = ip_len ? X509_VERIFY_PARAM_set1_ip(param, ip, ip_len)
                    : X509_VERIFY_PARAM_set1_host(param, host, strlen(host));
    /* host is a non-empty, NUL-free name or a parsed IP literal: only an
     * allocation can fail here. */
    if (!ok)
        return ns_fail_ssl(NS_ERR_NOMEM, "TLS: cannot check the host name \"%s\"", host);
    return NS_OK;
}

int ns_verify_wants_sni(const char *host)
{
    unsigned char ip[16];
    return host != NULL && ip_literal(host, ip) == 0;
}

int ns_is_host_name(const char *name)
{
    size_t total = strlen(name), label = 0;
    if (total == 0 || total > 253)
        return 0;
    for (const char *p = name; *p; p++) {
        if (*p == '.') {
            if (label == 0)
                return 0; /* an empty label, a leading or a doubled dot */
            label = 0;
            continue;
        }
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                 (*p >= '0' && *p <= '9') || *p == '-' || *p == '_';
        if (!ok || ++label > 63)
            return 0;
    }
    return label > 0; /* no trailing dot (RFC 6066, 3) */
}

int ns_verify_failure_status(ns_socket *s, char *msg, size_t len)
{
    if (s->bad_server_name) {
        snprintf(msg, len, "the client's server name (SNI) is not a valid host name "
                           "(refused with the alert \"unrecognized_name\")");
        return NS_ERR_TLS;
    }
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

/* A chain this configuration verified clean before (verdicts.c), for the
 * same name: its validity periods are checked again, and the user's
 * verifier judges each certificate as the library's walk would (anchor
 * first).  -1 if a period no longer holds: the full check decides. */
static int replay(ns_socket *s, STACK_OF(X509) *chain)
{
    size_t n = sk_X509_num(chain);
    for (size_t i = 0; i < n; i++) {
        X509 *x = sk_X509_value(chain, i);
        if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0 ||
            X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
            return -1;
    }
    for (size_t i = n; i-- > 0;)
        if (!judge(s, (int)i, X509_V_OK, sk_X509_value(chain, i)))
            return 0;
    return 1;
}

/* The library's checks over chain (leaf first) with verify_callback; a
 * clean result is remembered under key (if have_key). */
static int full_check(ns_socket *s, STACK_OF(X509) *chain, const uint8_t key[32], int have_key)
{
    int server = s->role != NS_ROLE_CLIENT;
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
    if (ok && have_key && !s->verify_library_error)
        ns_verdict_put(s->tls_config, key, X509_STORE_CTX_get0_chain(ctx));
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    return ok;
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
    uint8_t key[32];
    int have_key = ns_verdict_key(s, key);
    ns_verdict *v = have_key ? ns_verdict_find(s->tls_config, key) : NULL;
    int ok = v ? replay(s, ns_verdict_chain(v)) : -1;
    ns_verdict_unref(v);
    if (ok < 0)
        ok = full_check(s, chain, key, have_key);
    if (ok < 0)
        return ok; /* out of memory, recorded */
    char msg[384];
    if (!ok && ns_verify_failure_status(s, msg, sizeof msg) != NS_OK)
        return ns_fail_io(s, NS_ERR_CERTIFICATE, 0, "TLS handshake with", msg);
    return ok ? NS_OK : ns_fail_io(s, NS_ERR_CERTIFICATE, 0, "TLS handshake with",
                                   "the resumed session's certificate was rejected");
}
