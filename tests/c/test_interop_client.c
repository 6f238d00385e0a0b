/* Interoperability, netsocket as the client: of `openssl s_server` and
 * `gnutls-serv`.  Each test asserts what both ends saw: the version, ALPN,
 * SNI, the client certificate and data both ways; TLS 1.1 refused; then
 * what real servers do beyond a handshake: KeyUpdate, HelloRetryRequest,
 * resumption, renegotiation requests, truncation, and bulk data in
 * non-blocking mode.  The peers and the helpers: interop.h. */
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "interop.h"

/* ------------------------------------------------------------------ */
/* netsocket client, openssl s_server                                  */
/* ------------------------------------------------------------------ */

PEER_TEST(test_client_openssl_server_tls13_alpn_data)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "1", "-tls1_3", "-alpn", "http/1.1", NULL};
    peer *p;
    ns_socket *c = connect_s_server(extra, &port, &p, "localhost", alpn_h2_http11, 0);
    CHECK(c != NULL);
    CHECK_STR(ns_socket_tls_version(c), "TLSv1.3");
    CHECK_STR(ns_socket_selected_alpn(c), "http/1.1"); /* the server's choice, not our first */
    CHECK(peer_certificate_is(c, cert.server));
    CHECK(exchange_then_free(c, p));
    CHECK(peer_saw(p, "ALPN protocols advertised by the client: h2, http/1.1", TIMEOUT_US));
    CHECK(peer_wait_exit(p, TIMEOUT_US)); /* -naccept 1: done after our connection */
    CHECK(peer_exited_ok(p));
}

PEER_TEST(test_client_openssl_server_tls12_forced)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "1", "-tls1_2", NULL};
    peer *p;
    ns_socket *c = connect_s_server(extra, &port, &p, "localhost", NULL, 0);
    CHECK(c != NULL);
    CHECK_STR(ns_socket_tls_version(c), "TLSv1.2");
    CHECK(strncmp(ns_socket_tls_cipher(c), "TLS_ECDHE_ECDSA_WITH_", 21) == 0);
    CHECK(ns_socket_selected_alpn(c) == NULL);
    CHECK(exchange_then_free(c, p));
    CHECK(peer_wait_exit(p, TIMEOUT_US));
    CHECK(peer_exited_ok(p));
}

/* s_server switches to its second identity only when it sees SNI alt.test;
 * our host name check against the SNI name proves which one it served. */
PEER_TEST(test_client_openssl_server_sni_selects_certificate)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "2",  "-servername", "alt.test", "-cert2",
                           path("alt", "crt"), "-key2", path("alt", "key"), NULL};
    peer *p;
    ns_socket *c = connect_s_server(extra, &port, &p, "alt.test", NULL, 0);
    CHECK(c != NULL);
    CHECK(peer_certificate_is(c, cert.alt));
    CHECK(exchange_then_free(c, p));
    CHECK(peer_saw(p, "Hostname in TLS extension: \"alt.test\"", TIMEOUT_US));

    c = connect_peer(port, "localhost", NULL, 0);
    CHECK(c != NULL);
    CHECK(peer_certificate_is(c, cert.server));
    ns_socket_free(c);
    CHECK(peer_wait_exit(p, TIMEOUT_US));
}

PEER_TEST(test_client_openssl_server_mtls)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "2", "-Verify", "1", "-CAfile", path("ca", "crt"),
                           "-verify_return_error", NULL};
    peer *p;
    ns_socket *c = connect_s_server(extra, &port, &p, "localhost", NULL, 1);
    CHECK(c != NULL);
    CHECK(exchange_then_free(c, p));
    /* s_server verified our certificate and printed it, byte for byte. */
    CHECK(peer_saw(p, "subject=CN = netsocket interop client", TIMEOUT_US));
    CHECK(peer_saw(p, certgen_cert_pem(cert.client), 0));

    /* Without a certificate: TLS 1.3 lets the client finish first, so the
     * server's alert arrives at the first read at the latest. */
    c = connect_peer(port, "localhost", NULL, 0);
    if (c != NULL) {
        char buf[64];
        ssize_t n = ns_socket_recv(c, buf, sizeof buf, 0);
        ns_socket_free(c);
        CHECK_EQ(n, NS_ERR_TLS);
    }
    CHECK_EQ(ns_last_status(), NS_ERR_TLS);
    CHECK_ERROR_HAS("certificate");
    CHECK(peer_saw(p, "peer did not return a certificate", TIMEOUT_US));
    CHECK(peer_wait_exit(p, TIMEOUT_US));
}

PEER_TEST(test_client_refuses_openssl_server_tls11)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "1", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", NULL};
    peer *p = start_s_server(extra, &port);
    CHECK(p != NULL);
    CHECK_EQ(connect_status(port, "localhost", NULL, 0), NS_ERR_TLS);
    CHECK(peer_wait_exit(p, TIMEOUT_US));
    CHECK(peer_saw(p, "unsupported protocol", TIMEOUT_US));
}

/* s_server sends a TLS 1.3 KeyUpdate (its "k" and "K" commands, the
 * latter asking us to update too); data keeps flowing both ways. */
PEER_TEST(test_client_openssl_server_key_update)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "1", "-tls1_3", NULL};
    peer *p;
    ns_socket *c = connect_s_server(extra, &port, &p, "localhost", NULL, 0);
    CHECK(c != NULL);
    int ok = exchange_around_key_updates(c, p, "SSL_do_handshake -> 1");
    ns_socket_free(c);
    CHECK(ok);
    CHECK(peer_wait_exit(p, TIMEOUT_US));
    CHECK(peer_exited_ok(p));
}

/* A TLS 1.2 server asking to renegotiate (s_server's "r" command): like Go's
 * crypto/tls, netsocket does not renegotiate; the connection fails with
 * NS_ERR_TLS instead of hanging or going on silently. */
PEER_TEST(test_client_openssl_server_renegotiation_refused)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "1", "-tls1_2", NULL};
    peer *p;
    ns_socket *c = connect_s_server(extra, &port, &p, "localhost", NULL, 0);
    CHECK(c != NULL);
    ssize_t n = recv_after_renegotiation_request(c, p, "r\n", "SSL_do_handshake -> 1");
    ns_socket_free(c);
    CHECK_EQ(n, NS_ERR_TLS);
    CHECK_ERROR_HAS("RENEGOTIATION");
    CHECK(peer_saw(p, "alert no renegotiation", TIMEOUT_US));
    CHECK(peer_wait_exit(p, TIMEOUT_US));
}

/* The default non-blocking mode with a selector: 48 KiB from s_server
 * arrive in many TLS records; every one is read, none is left pending
 * unseen by the selector. */
PEER_TEST(test_client_non_blocking_selector_openssl_server)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "1", NULL};
    peer *p;
    ns_socket *c = connect_s_server(extra, &port, &p, "localhost", NULL, 0);
    CHECK(c != NULL);
    CHECK_EQ(ns_socket_set_non_blocking(c, 1), NS_OK);
    char buf[4096];
    CHECK_EQ(ns_socket_recv(c, buf, sizeof buf, 0), NS_ERR_WOULD_BLOCK);
    /* Lines of digits: s_server takes a line starting with a letter as a command. */
    char line[64];
    memset(line, '7', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    size_t want = 0;
    for (int i = 0; i < 768; i++, want += sizeof line)
        if (write(p->in, line, sizeof line) != (ssize_t)sizeof line)
            break;
    CHECK_EQ(want, 768 * sizeof line); /* fits the pipe: the writes never block */
    ns_selector *sel = ns_selector_new();
    size_t got = 0;
    int bad = 0, waits = 0;
    int64_t deadline = now_us() + TIMEOUT_US;
    while (got < want && !bad && now_us() < deadline) {
        ns_selector_add(sel, c, TIMEOUT_US, NULL);
        if (ns_selector_wait(sel, TIMEOUT_US) != 1 || ns_selector_event_timed_out(sel, 0))
            break;
        waits++;
        ssize_t n;
        while ((n = ns_socket_recv(c, buf, sizeof buf, 0)) > 0) {
            for (ssize_t i = 0; i < n; i++)
                bad |= buf[i] != ((got + (size_t)i) % sizeof line == sizeof line - 1 ? '\n' : '7');
            got += (size_t)n;
        }
        bad |= n != NS_ERR_WOULD_BLOCK;
    }
    ns_selector_free(sel);
    ns_socket_free(c);
    CHECK(!bad);
    CHECK_EQ(got, want);
    CHECK(waits >= 1);
}

/* s_server killed mid-connection: no close_notify, so the end of the
 * stream is a truncation (NS_ERR_CLOSED), never an orderly 0.  No SNI is
 * sent for an IP literal; the certificate is checked against the IP. */
PEER_TEST(test_client_detects_truncation_when_openssl_server_dies)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "1",  "-servername", "alt.test", "-cert2",
                           path("alt", "crt"), "-key2", path("alt", "key"), NULL};
    peer *p;
    ns_socket *c = connect_s_server(extra, &port, &p, NULL, NULL, 0);
    CHECK(c != NULL);
    CHECK(peer_certificate_is(c, cert.server));
    int ok = exchange_via_stdio(c, p);
    kill(p->pid, SIGKILL);
    char buf[64];
    ssize_t n = ok ? ns_socket_recv(c, buf, sizeof buf, 0) : 1;
    ns_socket_free(c);
    CHECK(ok);
    CHECK_EQ(n, NS_ERR_CLOSED);
    CHECK_ERROR_HAS("without close_notify");
    CHECK(!peer_saw(p, "Hostname in TLS extension", 0));
}

/* s_server accepts only P-384, for which netsocket's first ClientHello
 * carries no key share: netsocket must answer its HelloRetryRequest. */
PEER_TEST(test_client_openssl_server_hello_retry_request)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "1", "-tls1_3", "-groups", "P-384", "-trace", NULL};
    peer *p;
    ns_socket *c = connect_s_server(extra, &port, &p, "localhost", NULL, 0);
    CHECK(c != NULL);
    CHECK_STR(ns_socket_tls_version(c), "TLSv1.3");
    CHECK(exchange_then_free(c, p));
    /* -trace shows a HelloRetryRequest as a ServerHello whose key_share
     * holds just the selected group (2 bytes). */
    CHECK(peer_saw(p, "extension_type=key_share(51), length=2\n", 0));
    CHECK(peer_wait_exit(p, TIMEOUT_US));
    CHECK(peer_exited_ok(p));
}

/* A netsocket client resumes TLS 1.2 sessions from one options object, more
 * than once (TLS 1.2 sessions are not single-use), with the verifier run on
 * each resumed connection. */
PEER_TEST(test_client_resumes_tls12_with_openssl_server)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "3", "-tls1_2", "-no_ticket", NULL};
    peer *p = start_s_server(extra, &port);
    CHECK(p != NULL);
    ns_options *o = blocking_options(NS_TLS_SOCKET_OPTIONS, TIMEOUT_US);
    const char *ca_pem = certgen_cert_pem(cert.ca);
    ns_options_add_trusted_certificate(o, ca_pem, strlen(ca_pem));
    verdict v = {.accept = 1};
    ns_options_set_certificate_verifier(o, verdict_verifier, &v);
    int reused[3] = {-1, -1, -1};
    int64_t deadline = now_us() + 3000000;
    for (int i = 0; i < 3; i++) {
        ns_socket *c = ns_make_client_tls_socket("127.0.0.1", port, o);
        while (c == NULL && ns_last_status() == NS_ERR_CONNECT && now_us() < deadline) {
            usleep(20000); /* s_server may still be starting */
            c = ns_make_client_tls_socket("127.0.0.1", port, o);
        }
        if (c == NULL)
            break;
        reused[i] = ns_socket_session_reused(c);
        ns_socket_free(c);
    }
    ns_options_free(o);
    CHECK_EQ(reused[0], 0);
    CHECK_EQ(reused[1], 1);
    CHECK_EQ(reused[2], 1);
    CHECK_EQ(v.calls, 6);
    CHECK(peer_wait_exit(p, TIMEOUT_US));
}

/* ------------------------------------------------------------------ */
/* netsocket client, gnutls-serv                                       */
/* ------------------------------------------------------------------ */

/* gnutls-serv answers only SNI alt.test (--sni-hostname-fatal) and only ALPN
 * http/1.1 (--alpn-fatal): the right names work, wrong ones fail. */
PEER_TEST(test_client_gnutls_server_tls13_alpn_sni)
{
    REQUIRE_PROGRAM("gnutls-serv");
    const char *port;
    const char *extra[] = {"--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3", "--alpn", "http/1.1",
                           "--alpn-fatal", "--sni-hostname", "alt.test", "--sni-hostname-fatal",
                           NULL};
    peer *p = start_gnutls_serv("alt", extra, &port);
    CHECK(p != NULL);
    ns_socket *c = connect_peer(port, "alt.test", alpn_h2_http11, 0);
    CHECK(c != NULL);
    CHECK_STR(ns_socket_tls_version(c), "TLSv1.3");
    CHECK_STR(ns_socket_selected_alpn(c), "http/1.1");
    CHECK(peer_certificate_is(c, cert.alt));
    int ok = exchange_via_echo(c);
    ns_socket_free(c);
    CHECK(ok);
    CHECK(peer_saw(p, "Given server name[1]: alt.test", TIMEOUT_US));
    CHECK(peer_saw(p, "Application protocol: http/1.1", TIMEOUT_US));

    /* The wrong SNI name: gnutls-serv refuses it with an alert (had it
     * answered, our host name check would say NS_ERR_CERTIFICATE). */
    CHECK_EQ(connect_status(port, "other.test", alpn_http11, 0), NS_ERR_TLS);
    CHECK(peer_saw(p, "SNI host name not recognised", TIMEOUT_US));
    /* No ALPN name in common. */
    CHECK_EQ(connect_status(port, "alt.test", alpn_h2, 0), NS_ERR_TLS);
    CHECK(peer_saw(p, "No common application protocol", TIMEOUT_US));
}

PEER_TEST(test_client_gnutls_server_tls12_mtls)
{
    REQUIRE_PROGRAM("gnutls-serv");
    const char *port;
    const char *extra[] = {"--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.2", "--require-client-cert",
                           "--verify-client-cert", "--x509cafile", path("ca", "crt"), NULL};
    peer *p = start_gnutls_serv("server", extra, &port);
    CHECK(p != NULL);
    ns_socket *c = connect_peer(port, "localhost", NULL, 1);
    CHECK(c != NULL);
    CHECK_STR(ns_socket_tls_version(c), "TLSv1.2");
    int ok = exchange_via_echo(c);
    ns_socket_free(c);
    CHECK(ok);
    /* gnutls-serv verified our certificate and printed it, byte for byte. */
    CHECK(peer_saw(p, "Subject: CN=netsocket interop client", TIMEOUT_US));
    CHECK(peer_saw(p, certgen_cert_pem(cert.client), 0));
    CHECK(peer_saw(p, "Status: The certificate is trusted", TIMEOUT_US));

    /* Without a certificate the TLS 1.2 handshake itself fails. */
    CHECK_EQ(connect_status(port, "localhost", NULL, 0), NS_ERR_TLS);
    CHECK(peer_saw(p, "No certificate was found", TIMEOUT_US));
}

/* One MiB through gnutls-serv's echo on a non-blocking socket, sending
 * and receiving in turns (one thread may use a socket at a time): partial
 * writes, many records and flow control with a foreign stack. */
PEER_TEST(test_client_non_blocking_mebibyte_through_gnutls_echo)
{
    REQUIRE_PROGRAM("gnutls-serv");
    const char *port;
    const char *extra[] = {"--quiet", NULL};
    peer *p = start_gnutls_serv("server", extra, &port);
    CHECK(p != NULL);
    ns_socket *c = connect_peer(port, "localhost", NULL, 0);
    CHECK(c != NULL);
    CHECK_EQ(ns_socket_set_non_blocking(c, 1), NS_OK);
    enum { total = 1 << 20 };
    static unsigned char out[total], in[total];
    /* Printable lines: the echo answers each read as a C string. */
    for (size_t i = 0; i < total; i++)
        out[i] = i % 64 == 63 ? '\n' : (unsigned char)('a' + (i * 7 + i / 4096) % 26);
    size_t sent = 0, received = 0;
    ssize_t n = 0;
    int64_t deadline = now_us() + 10000000;
    while (received < total && now_us() < deadline) {
        int progress = 0;
        if (sent < total) {
            size_t len = total - sent < 65536 ? total - sent : 65536;
            if ((n = ns_socket_send(c, out + sent, len, 0)) > 0)
                sent += (size_t)n, progress = 1;
            else if (n != NS_ERR_WOULD_BLOCK)
                break;
        }
        if ((n = ns_socket_recv(c, in + received, total - received, 0)) > 0)
            received += (size_t)n, progress = 1;
        else if (n != NS_ERR_WOULD_BLOCK)
            break;
        peer_drain(p, now_us()); /* the peer must never block on its output */
        if (!progress) {
            struct pollfd pfd = {ns_socket_fd(c), POLLIN | (sent < total ? POLLOUT : 0), 0};
            poll(&pfd, 1, 100);
        }
    }
    ns_socket_free(c);
    CHECK_EQ(sent, total);
    CHECK_EQ(received, total);
    CHECK(memcmp(in, out, total) == 0);
}

static const ns_test tests[] = {
    TEST(test_client_openssl_server_tls13_alpn_data),
    TEST(test_client_openssl_server_tls12_forced),
    TEST(test_client_openssl_server_sni_selects_certificate),
    TEST(test_client_openssl_server_mtls),
    TEST(test_client_refuses_openssl_server_tls11),
    TEST(test_client_openssl_server_key_update),
    TEST(test_client_openssl_server_renegotiation_refused),
    TEST(test_client_non_blocking_selector_openssl_server),
    TEST(test_client_openssl_server_hello_retry_request),
    TEST(test_client_detects_truncation_when_openssl_server_dies),
    TEST(test_client_gnutls_server_tls13_alpn_sni),
    TEST(test_client_gnutls_server_tls12_mtls),
    TEST(test_client_non_blocking_mebibyte_through_gnutls_echo),
    TEST(test_client_resumes_tls12_with_openssl_server),
};

INTEROP_TEST_MAIN(tests)
