/* Interoperability, netsocket as the server: for `openssl s_client` and
 * `gnutls-cli`.  Each test asserts what both ends saw: the version, ALPN,
 * SNI, the client certificate and data both ways; TLS 1.0/1.1 refused;
 * then what real clients do beyond a handshake: KeyUpdate,
 * HelloRetryRequest, resumption (with the verifier run again),
 * renegotiation requests.  The peers and the helpers: interop.h. */
#include "interop.h"

/* ------------------------------------------------------------------ */
/* netsocket server, openssl s_client                                  */
/* ------------------------------------------------------------------ */

PEER_TEST(test_server_openssl_client_tls13_alpn_sni_mtls)
{
    REQUIRE_PROGRAM("openssl");
    /* The client prefers http/1.1; the server's preference, h2, wins. */
    const char *extra[] = {"-tls1_3", "-servername", "alt.test", "-alpn", "http/1.1,h2",
                           "-cert", path("client", "crt"), "-key", path("client", "key"), NULL};
    peer *p;
    ns_socket *conn = accept_s_client(alpn_h2_http11, 1, extra, &p);
    CHECK(conn != NULL);
    CHECK_STR(ns_socket_tls_version(conn), "TLSv1.3");
    CHECK_STR(ns_socket_selected_alpn(conn), "h2");
    CHECK_STR(ns_socket_server_name(conn), "alt.test");
    CHECK(peer_certificate_is(conn, cert.client));
    CHECK(serve_client_to_the_end(conn, p));
    CHECK(peer_saw(p, "Verify return code: 0 (ok)", 0));
    CHECK(peer_saw(p, certgen_cert_pem(cert.server), 0)); /* what it was served */
    CHECK(peer_saw(p, "ALPN protocol: h2", 0));
    CHECK(peer_saw(p, "New, TLSv1.3", 0));
    /* The certificate request names the trusted CA. */
    CHECK(peer_saw(p, "Acceptable client certificate CA names\nCN = netsocket interop CA\n", 0));
}

PEER_TEST(test_server_openssl_client_tls12_forced)
{
    REQUIRE_PROGRAM("openssl");
    const char *extra[] = {"-tls1_2", "-servername", "localhost", NULL};
    peer *p;
    ns_socket *conn = accept_s_client(NULL, 0, extra, &p);
    CHECK(conn != NULL);
    CHECK_STR(ns_socket_tls_version(conn), "TLSv1.2");
    CHECK(ns_socket_selected_alpn(conn) == NULL);
    CHECK_STR(ns_socket_server_name(conn), "localhost");
    CHECK(ns_socket_peer_certificate(conn, NULL) == NULL); /* none asked, none sent */
    CHECK(serve_client_to_the_end(conn, p));
    CHECK(peer_saw(p, "Verify return code: 0 (ok)", 0));
    CHECK(peer_saw(p, "New, TLSv1.2", 0));
}

PEER_TEST(test_server_requires_certificate_openssl_client_without_one)
{
    REQUIRE_PROGRAM("openssl");
    const char *extra[] = {"-tls1_3", NULL};
    peer *p;
    ns_socket *conn = accept_s_client(NULL, 1, extra, &p);
    ns_socket_free(conn);
    CHECK(p != NULL);
    CHECK(conn == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_CERTIFICATE);
    CHECK(peer_saw(p, "alert certificate required", TIMEOUT_US));
}

/* TLS 1.0 and 1.1 clients are refused, and the server then serves the next
 * client normally. */
PEER_TEST(test_server_refuses_tls10_tls11_then_serves_next)
{
    REQUIRE_PROGRAM("openssl");
    ns_socket *server = tls_server(NULL, 0);
    CHECK(server != NULL);
    static const char *const old[] = {"-tls1", "-tls1_1"};
    for (size_t i = 0; i < 2; i++) {
        const char *extra[] = {old[i], "-cipher", "DEFAULT@SECLEVEL=0", NULL};
        peer *p = start_s_client(server, extra);
        ns_socket *conn = accept_peer(server, p);
        ns_socket_free(conn);
        CHECK(conn == NULL);
        CHECK_EQ(ns_last_status(), NS_ERR_TLS);
        CHECK(peer_wait_exit(p, TIMEOUT_US));
        CHECK(peer_exited_failing(p));
        CHECK(peer_saw(p, "alert protocol version", 0));
    }
    if (have_program("gnutls-cli") || getenv("NS_INTEROP_REQUIRE_PEERS")) {
        char port[16];
        snprintf(port, sizeof port, "%d", ns_socket_local_port(server));
        const char *argv[] = {"gnutls-cli", "127.0.0.1", "--port", port, "--x509cafile",
                              path("ca", "crt"), "--priority",
                              "NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0", NULL};
        peer *p = peer_run(argv, NULL);
        ns_socket *conn = accept_peer(server, p);
        ns_socket_free(conn);
        CHECK(conn == NULL);
        CHECK_EQ(ns_last_status(), NS_ERR_TLS);
        CHECK(peer_wait_exit(p, TIMEOUT_US));
        CHECK(peer_exited_failing(p));
        CHECK(peer_saw(p, "Error in protocol version", 0));
    }
    const char *extra[] = {"-servername", "localhost", NULL};
    peer *p = start_s_client(server, extra);
    ns_socket *conn = accept_peer(server, p);
    ns_socket_free(server);
    CHECK(conn != NULL);
    CHECK_STR(ns_socket_tls_version(conn), "TLSv1.3");
    CHECK(serve_client_to_the_end(conn, p));
    CHECK(peer_saw(p, "Verify return code: 0 (ok)", 0));
}

/* A TLS 1.2 client asking to renegotiate (s_client's "R" command) is
 * refused, as renegotiation is a known way to make a server burn CPU. */
PEER_TEST(test_server_refuses_openssl_client_renegotiation)
{
    REQUIRE_PROGRAM("openssl");
    const char *extra[] = {"-tls1_2", NULL};
    peer *p;
    ns_socket *conn = accept_s_client(NULL, 0, extra, &p);
    CHECK(conn != NULL);
    ssize_t n = recv_after_renegotiation_request(conn, p, "R\n", "RENEGOTIATING");
    ns_socket_free(conn);
    CHECK_EQ(n, NS_ERR_TLS);
    CHECK_ERROR_HAS("RENEGOTIATION");
    CHECK(peer_saw(p, "alert no renegotiation", TIMEOUT_US));
    CHECK(peer_wait_exit(p, TIMEOUT_US));
}

/* A second s_client resumes the session of the first (-sess_out, -sess_in)
 * with the ticket netsocket's server issued.  (Not -reconnect: it does not
 * wait for TLS 1.3 tickets, not even from s_server.) */
static void check_resumption(const char *version_flag, const char *version)
{
    ns_socket *server = tls_server(NULL, 0);
    CHECK(server != NULL);
    const char *first[] = {version_flag, "-sess_out", path("session", "pem"), NULL};
    const char *second[] = {version_flag, "-sess_in", path("session", "pem"), NULL};
    char new_session[32], reused_session[32];
    snprintf(new_session, sizeof new_session, "New, %s", version);
    snprintf(reused_session, sizeof reused_session, "Reused, %s", version);
    int ok = serve_s_client_expecting(server, first, new_session) &&
             serve_s_client_expecting(server, second, reused_session);
    ns_socket_free(server);
    CHECK(ok);
}

PEER_TEST(test_server_openssl_client_resumes_tls13)
{
    REQUIRE_PROGRAM("openssl");
    check_resumption("-tls1_3", "TLSv1.3");
}

PEER_TEST(test_server_openssl_client_resumes_tls12)
{
    REQUIRE_PROGRAM("openssl");
    check_resumption("-tls1_2", "TLSv1.2");
}

/* s_client resuming with -sess_in is verified again: the server's verifier
 * runs over the session's client chain (2 calls, exactly), and when it says
 * no, the resumed connection is refused (the first call, at depth 1). */
static void check_verifier_on_resumption(const char *version_flag, const char *version)
{
    verdict v = {.accept = 1};
    ns_socket *server = tls_server_verified(NULL, 1, &v);
    CHECK(server != NULL);
    const char *first[] = {version_flag, "-cert", path("client", "crt"), "-key",
                           path("client", "key"), "-sess_out", path("session", "pem"), NULL};
    const char *again[] = {version_flag, "-sess_in", path("session", "pem"), NULL};
    char new_session[32], reused_session[32];
    snprintf(new_session, sizeof new_session, "New, %s", version);
    snprintf(reused_session, sizeof reused_session, "Reused, %s", version);
    int ok = serve_s_client_expecting(server, first, new_session);
    int calls_full = v.calls;
    ok = ok && serve_s_client_expecting(server, again, reused_session);
    int calls_resumed = v.calls - calls_full;
    v.accept = 0;
    peer *p = ok ? start_s_client(server, again) : NULL;
    ns_socket *conn = p ? accept_peer(server, p) : NULL;
    int status = ns_last_status();
    char message[256];
    snprintf(message, sizeof message, "%s", ns_last_error());
    ns_socket_free(conn);
    ns_socket_free(server);
    CHECK(ok);
    CHECK_EQ(calls_full, 2);
    CHECK_EQ(calls_resumed, 2);
    CHECK(conn == NULL);
    CHECK_EQ(status, NS_ERR_CERTIFICATE);
    CHECK_EQ(v.calls, 5);
    const char *cause = strstr(message, ": the certificate verifier");
    CHECK(strncmp(message, "TLS handshake with 127.0.0.1:", 29) == 0 && cause != NULL);
    CHECK_STR(cause, ": the certificate verifier rejected the certificate at depth 1 "
                     "(application verification failure)");
    CHECK(peer_saw(p, "alert bad certificate", TIMEOUT_US));
}

PEER_TEST(test_server_verifier_runs_on_openssl_client_resumption_tls13)
{
    REQUIRE_PROGRAM("openssl");
    check_verifier_on_resumption("-tls1_3", "TLSv1.3");
}

PEER_TEST(test_server_verifier_runs_on_openssl_client_resumption_tls12)
{
    REQUIRE_PROGRAM("openssl");
    check_verifier_on_resumption("-tls1_2", "TLSv1.2");
}

/* A server with ALPN names: a client offering none of them fails with
 * no_application_protocol; a client offering no ALPN at all is served
 * without it. */
PEER_TEST(test_server_alpn_without_overlap_or_offer)
{
    REQUIRE_PROGRAM("openssl");
    ns_socket *server = tls_server(alpn_h2_http11, 0);
    CHECK(server != NULL);
    const char *extra[] = {"-alpn", "h3,spdy/3", NULL};
    peer *p = start_s_client(server, extra);
    ns_socket *conn = accept_peer(server, p);
    int status = ns_last_status();
    ns_socket_free(conn);
    CHECK(conn == NULL);
    CHECK_EQ(status, NS_ERR_TLS);
    CHECK(peer_wait_exit(p, TIMEOUT_US));
    CHECK(peer_saw(p, "alert no application protocol", 0));

    const char *plain[] = {"-servername", "localhost", NULL};
    int ok = serve_s_client_expecting(server, plain, "No ALPN negotiated");
    ns_socket_free(server);
    CHECK(ok);
}

/* s_client sends TLS 1.3 KeyUpdates; data keeps flowing both ways. */
PEER_TEST(test_server_openssl_client_key_update)
{
    REQUIRE_PROGRAM("openssl");
    const char *extra[] = {"-tls1_3", NULL};
    peer *p;
    ns_socket *conn = accept_s_client(NULL, 0, extra, &p);
    CHECK(conn != NULL);
    CHECK(ns_socket_server_name(conn) == NULL); /* no SNI for an IP literal */
    int ok = exchange_around_key_updates(conn, p, "KEYUPDATE");
    if (!ok)
        ns_socket_free(conn);
    CHECK(ok);
    CHECK(serve_client_to_the_end(conn, p));
}

/* The client's only key share is for P-521, which netsocket does not
 * offer: it must ask again for P-256 with a HelloRetryRequest. */
PEER_TEST(test_server_openssl_client_hello_retry_request)
{
    REQUIRE_PROGRAM("openssl");
    const char *extra[] = {"-tls1_3", "-groups", "P-521:P-256", "-trace", NULL};
    peer *p;
    ns_socket *conn = accept_s_client(NULL, 0, extra, &p);
    CHECK(conn != NULL);
    CHECK_STR(ns_socket_tls_version(conn), "TLSv1.3");
    CHECK(serve_client_to_the_end(conn, p));
    /* -trace shows a HelloRetryRequest as a ServerHello whose key_share
     * holds just the selected group (2 bytes). */
    CHECK(peer_saw(p, "extension_type=key_share(51), length=2\n", 0));
    CHECK(peer_saw(p, "Server Temp Key: ECDH, prime256v1", 0));
}

/* ------------------------------------------------------------------ */
/* netsocket server, gnutls-cli                                        */
/* ------------------------------------------------------------------ */

/* gnutls-cli with only the versions of `priority`, verifying the server
 * against our CA and the name localhost, sending SNI alt.test, ALPN
 * http/1.1 and our client certificate; the server must see all of it. */
static void check_gnutls_client(const char *priority, const char *version)
{
    ns_socket *server = tls_server(alpn_h2_http11, 1);
    CHECK(server != NULL);
    char port[16];
    snprintf(port, sizeof port, "%d", ns_socket_local_port(server));
    const char *argv[] = {"gnutls-cli", "127.0.0.1", "--port", port, "--x509cafile",
                          path("ca", "crt"), "--verify-hostname", "localhost", "--sni-hostname",
                          "alt.test", "--alpn", "http/1.1", "--x509certfile",
                          path("client", "crt"), "--x509keyfile", path("client", "key"),
                          "--priority", priority, NULL};
    peer *p = peer_run(argv, NULL);
    ns_socket *conn = accept_peer(server, p);
    ns_socket_free(server);
    CHECK(conn != NULL);
    CHECK_STR(ns_socket_tls_version(conn), version);
    CHECK_STR(ns_socket_selected_alpn(conn), "http/1.1");
    CHECK_STR(ns_socket_server_name(conn), "alt.test");
    CHECK(peer_certificate_is(conn, cert.client));
    CHECK(serve_client_to_the_end(conn, p));
    CHECK(peer_saw(p, "The certificate is trusted", 0));
    CHECK(peer_saw(p, "Application protocol: http/1.1", 0));
}

PEER_TEST(test_server_gnutls_client_tls13_alpn_sni_mtls)
{
    REQUIRE_PROGRAM("gnutls-cli");
    check_gnutls_client("NORMAL:-VERS-ALL:+VERS-TLS1.3", "TLSv1.3");
}

PEER_TEST(test_server_gnutls_client_tls12_alpn_sni_mtls)
{
    REQUIRE_PROGRAM("gnutls-cli");
    check_gnutls_client("NORMAL:-VERS-ALL:+VERS-TLS1.2", "TLSv1.2");
}

static const ns_test tests[] = {
    TEST(test_server_openssl_client_tls13_alpn_sni_mtls),
    TEST(test_server_openssl_client_tls12_forced),
    TEST(test_server_requires_certificate_openssl_client_without_one),
    TEST(test_server_refuses_tls10_tls11_then_serves_next),
    TEST(test_server_alpn_without_overlap_or_offer),
    TEST(test_server_refuses_openssl_client_renegotiation),
    TEST(test_server_openssl_client_resumes_tls13),
    TEST(test_server_openssl_client_resumes_tls12),
    TEST(test_server_verifier_runs_on_openssl_client_resumption_tls13),
    TEST(test_server_verifier_runs_on_openssl_client_resumption_tls12),
    TEST(test_server_openssl_client_key_update),
    TEST(test_server_openssl_client_hello_retry_request),
    TEST(test_server_gnutls_client_tls13_alpn_sni_mtls),
    TEST(test_server_gnutls_client_tls12_alpn_sni_mtls),
};

INTEROP_TEST_MAIN(tests)
