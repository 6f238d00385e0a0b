/* Explaining TLS failures: the alerts a connection sent and received, the
 * names a certificate holds when the host name check fails, a peer that
 * does not speak TLS, and the per-thread details (verify code, alert) that
 * go with the message. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "internal.h"

const char *ns_tls_alert_name(int alert)
{
    static const struct { int code; const char *name; } names[] = {
        { 0, "close_notify" },           { 10, "unexpected_message" },
        { 20, "bad_record_mac" },        { 22, "record_overflow" },
        { 30, "decompression_failure" }, { 40, "handshake_failure" },
        { 42, "bad_certificate" },       { 43, "unsupported_certificate" },
        { 44, "certificate_revoked" },   { 45, "certificate_expired" },
        { 46, "certificate_unknown" },   { 47, "illegal_parameter" },
        { 48, "unknown_ca" },            { 49, "access_denied" },
        { 50, "decode_error" },          { 51, "decrypt_error" },
        { 70, "protocol_version" },      { 71, "insufficient_security" },
        { 80, "internal_error" },        { 86, "inappropriate_fallback" },
        { 90, "user_canceled" },         { 100, "no_renegotiation" },
        { 109, "missing_extension" },    { 110, "unsupported_extension" },
        { 112, "unrecognized_name" },    { 113, "bad_certificate_status_response" },
        { 115, "unknown_psk_identity" }, { 116, "certificate_required" },
        { 120, "no_application_protocol" }, { 121, "ech_required" },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].code == alert)
            return names[i].name;
    return "unknown";
}

static void info_callback(const SSL *ssl, int type, int value)
{
    ns_socket *s = SSL_get_app_data(ssl);
    int alert = value & 0xff;
    if (s == NULL || !(type & SSL_CB_ALERT) || alert == SSL_AD_CLOSE_NOTIFY)
        return;
    s->alert_seen = 1;
    s->alert = alert;
    s->alert_sent = (type & SSL_CB_WRITE) != 0;
}

void ns_tls_watch_alerts(SSL *ssl)
{
    SSL_set_info_callback(ssl, info_callback);
}

void ns_tls_note_failure(const ns_socket *s)
{
    if (s->ssl != NULL)
        ns_set_tls_details(s->verify_error_failed, s->alert_seen ? s->alert : -1, s->alert_sent);
}

/* Appends ", " (unless first) and the text to buf. */
static void append(char *buf, size_t len, const char *text)
{
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%s", used ? ", " : "", text);
}

void ns_verify_note_names(ns_socket *s, X509 *cert)
{
    char *out = s->verify_names;
    size_t len = sizeof s->verify_names;
    out[0] = '\0';
    GENERAL_NAMES *names = cert ? X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL) : NULL;
    for (size_t i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        char item[INET6_ADDRSTRLEN + 4 + 256];
        if (g->type == GEN_DNS) {
            snprintf(item, sizeof item, "DNS:%.*s", ASN1_STRING_length(g->d.dNSName),
                     (const char *)ASN1_STRING_get0_data(g->d.dNSName));
        } else if (g->type == GEN_IPADD) {
            char ip[INET6_ADDRSTRLEN] = "?";
            int n = ASN1_STRING_length(g->d.iPAddress);
            const void *raw = ASN1_STRING_get0_data(g->d.iPAddress);
            if (n == 4 || n == 16)
                inet_ntop(n == 4 ? AF_INET : AF_INET6, raw, ip, sizeof ip);
            snprintf(item, sizeof item, "IP:%s", ip);
        } else {
            continue;
        }
        append(out, len, item);
    }
    GENERAL_NAMES_free(names);
    ERR_clear_error();
    if (out[0] == '\0')
        snprintf(out, len, "no DNS or IP names (subjectAltName)");
}

/* The first bytes as text: printable ASCII as is, others as \xNN. */
static void quote_bytes(const uint8_t *b, size_t n, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used + 5 < len; i++)
        used += (size_t)snprintf(out + used, len - used, b[i] >= 0x20 && b[i] < 0x7f && b[i] != '"'
                                 ? "%c" : "\\x%02x", b[i]);
}

int ns_tls_describe_not_tls(ns_socket *s, uint32_t e, char *msg, size_t len)
{
    int reason = ERR_GET_REASON(e);
    if (s->handshake_done || ERR_GET_LIB(e) != ERR_LIB_SSL ||
        (reason != SSL_R_WRONG_VERSION_NUMBER && reason != SSL_R_HTTP_REQUEST &&
         reason != SSL_R_HTTPS_PROXY_REQUEST))
        return 0;
    const uint8_t *first = NULL;
    size_t n = ns_bio_first_bytes(SSL_get_rbio(s->ssl), &first);
    char text[64];
    quote_bytes(first, n, text, sizeof text);
    int http = reason != SSL_R_WRONG_VERSION_NUMBER ||
               (n >= 5 && memcmp(first, "HTTP/", 5) == 0);
    snprintf(msg, len, "the peer does not speak TLS: it sent \"%s\"%s", text,
             http ? " (plain HTTP?)" : "");
    return 1;
}
