/* TLS failures: certificates rejected (and the verify code, alert and names
 * each failure reports), the verifier saying no, clients that do not speak
 * TLS, and that the server serves the next client after each. */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tlstest.h"

/* A copy of the error state taken right after a failure (later calls in
 * the same test reset it). */
static struct {
    int status;
    char message[512];
    int verify_code, alert, alert_sent;
} test_error;

static void keep_error_state(int status, const char *message, int code, int alert, int sent)
{
    test_error.status = status;
    snprintf(test_error.message, sizeof test_error.message, "%s", message);
    test_error.verify_code = code;
    test_error.alert = alert;
    test_error.alert_sent = sent;
}

/* A client that must be rejected with NS_ERR_CERTIFICATE and `why`, after
 * which the same server serves a good client. */
static void expect_rejected(const test_cert *server_identity, ns_options *co, const char *node,
                            const char *why)
{
    tls_setup();
    ns_options *so = server_options(server_identity);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    CHECK(server != NULL);
    server_job job = {.server = server, .n = 1, .behave = echo_line};
    pthread_t t = spawn(serve, &job);
    ns_socket *c = ns_make_client_tls_socket(node, port_of(server), co);
    CHECK(c == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_CERTIFICATE);
    CHECK_ERROR_HAS(why);
    pthread_join(t, NULL);
    CHECK_EQ(job.status[0], NS_ERR_TLS); /* the server got our alert */
    CHECK(strstr(job.message[0], "alert") != NULL);
    ns_socket_free(server);
    ns_options_free(so);
}

static void test_unknown_ca_is_rejected(void)
{
    tls_setup();
    ns_options *co = client_options(other_ca);
    expect_rejected(server_cert, co, "localhost", "unable to get local issuer certificate");
    ns_options_free(co);
}

static void test_system_store_does_not_trust_a_private_ca(void)
{
    tls_setup();
    ns_options *co = client_options(NULL);
    expect_rejected(server_cert, co, "localhost", "certificate rejected at depth");
    ns_options_free(co);
}

static void test_expired_certificate_is_rejected(void)
{
    tls_setup();
    ns_options *co = client_options(ca);
    expect_rejected(expired_cert, co, "localhost", "expired");
    ns_options_free(co);
}

static void test_wrong_host_name_is_rejected(void)
{
    tls_setup();
    ns_options *co = client_options(ca);
    ns_options_add_sni(co, "wrong.example");
    expect_rejected(server_cert, co, "127.0.0.1", "mismatch");
    ns_options_free(co);
}

static void test_self_signed_certificate_is_rejected(void)
{
    tls_setup();
    ns_options *co = client_options(ca);
    expect_rejected(self_signed, co, "localhost", "self signed");
    ns_options_free(co);
}

typedef struct {
    int verdict, calls, depth0_error;
    size_t depth0_len;
} verifier_log;

static int logging_verifier(void *ud, int depth, int error, const unsigned char *der, size_t len)
{
    verifier_log *log = ud;
    log->calls++;
    if (depth == 0) {
        /* The leaf may be presented more than once (chain, then host name). */
        if (log->depth0_error == 0)
            log->depth0_error = error;
        log->depth0_len = len;
    }
    return log->verdict;
}

static void test_verifier_accepting_overrides_the_library(void)
{
    tls_setup();
    ns_options *so = server_options(self_signed);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    server_job job = {.server = server, .n = 1, .behave = echo_line};
    pthread_t t = spawn(serve, &job);
    ns_options *co = client_options(ca);
    verifier_log log = {.verdict = 1};
    ns_options_set_certificate_verifier(co, logging_verifier, &log);
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), co);
    CHECK(c != NULL);
    CHECK(round_trip(c));
    pthread_join(t, NULL);
    CHECK(log.calls >= 1);
    CHECK_EQ(log.depth0_error, 18); /* X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT */
    size_t want;
    certgen_cert_der(self_signed, &want);
    CHECK_EQ(log.depth0_len, want);
    ns_socket_free(c);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
}

static void test_verifier_rejecting_a_valid_chain(void)
{
    tls_setup();
    ns_options *co = client_options(ca);
    verifier_log log = {.verdict = 0};
    ns_options_set_certificate_verifier(co, logging_verifier, &log);
    expect_rejected(server_cert, co, "localhost", "verifier rejected");
    CHECK(log.calls >= 1);
    ns_options_free(co);
}

static void test_alpn_without_overlap_fails(void)
{
    tls_setup();
    ns_options *so = server_options(server_cert);
    ns_options_add_alpn(so, "h2");
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    server_job job = {.server = server, .n = 2, .behave = echo_line};
    pthread_t t = spawn(serve, &job);
    ns_options *co = client_options(ca);
    ns_options_add_alpn(co, "imap");
    CHECK(ns_make_client_tls_socket("localhost", port_of(server), co) == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_TLS);
    char want[160];
    snprintf(want, sizeof want, "TLS handshake with localhost:%s: the peer sent the alert "
             "no_application_protocol (120)", port_of(server));
    CHECK_STR(ns_last_error(), want);
    CHECK_EQ(ns_last_tls_alert(), 120);
    /* A client without ALPN is still served (no protocol selected). */
    ns_options *plain = client_options(ca);
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), plain);
    CHECK(c != NULL);
    CHECK(round_trip(c));
    CHECK(ns_socket_selected_alpn(c) == NULL);
    pthread_join(t, NULL);
    CHECK_EQ(job.status[0], NS_ERR_TLS);
    CHECK_EQ(job.status[1], NS_OK);
    ns_socket_free(c);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
    ns_options_free(plain);
}

/* A misbehaving plain-TCP client, then a good TLS client; the server's
 * accept fails with expect_status and exactly the message
 * "TLS handshake with 127.0.0.1:<client port>: <cause>". */
static void expect_server_survives(int64_t server_read_timeout, const void *bytes, size_t len,
                                   int expect_status, const char *cause)
{
    tls_setup();
    ns_options *so = server_options(server_cert);
    ns_options_set_read_timeout(so, server_read_timeout);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    server_job job = {.server = server, .n = 2, .behave = echo_line};
    pthread_t t = spawn(serve, &job);
    ns_options *po = blocking_options(NS_SOCKET_OPTIONS, 5000000);
    ns_socket *bad = ns_make_client_socket("127.0.0.1", port_of(server), po);
    CHECK(bad != NULL);
    if (len)
        CHECK_EQ(ns_socket_send_all(bad, bytes, len, 0), (long long)len);
    if (expect_status != NS_ERR_READ_TIMEOUT)
        ns_socket_shutdown(bad, SHUT_WR);
    /* Wait until the server has judged it, then send a good client. */
    char sink[256];
    while (ns_socket_recv(bad, sink, sizeof sink, 0) > 0) {
    }
    ns_options *co = client_options(ca);
    ns_socket *good = ns_make_client_tls_socket("localhost", port_of(server), co);
    CHECK(good != NULL);
    CHECK(round_trip(good));
    pthread_join(t, NULL);
    CHECK_EQ(job.status[0], expect_status);
    char expect[512];
    snprintf(expect, sizeof expect, "TLS handshake with 127.0.0.1:%d: %s",
             ns_socket_local_port(bad), cause);
    CHECK_STR(job.message[0], expect);
    CHECK_EQ(job.status[1], NS_OK);
    ns_socket_free(bad);
    ns_socket_free(good);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(po);
    ns_options_free(co);
}

static void test_plain_http_to_the_tls_port(void)
{
    const char *http = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    expect_server_survives(5000000, http, strlen(http), NS_ERR_TLS,
                           "the peer does not speak TLS: it sent \"GET / HTTP/1.1\\x0d\\x0a\" "
                           "(plain HTTP?)");
}

static void test_silent_client_times_out_in_accept(void)
{
    int64_t start = now_us();
    expect_server_survives(200000, NULL, 0, NS_ERR_READ_TIMEOUT, "timed out after 200000 us");
    CHECK(now_us() - start < SLACK(3000000));
}

static void test_truncated_handshake(void)
{
    /* A TLS record header announcing a 512-byte ClientHello, then EOF. */
    static const unsigned char partial[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03};
    expect_server_survives(5000000, partial, sizeof partial, NS_ERR_TLS,
                           "the peer closed the connection before the handshake finished "
                           "(handshake truncated; does the client speak TLS?)");
}

/* ---- the details a failure carries: verify code, alert, names ---- */

/* Connects a client with options co to a server with identity `id` (as
 * `node`); the client must fail.  The server's outcome goes to *job. */
static void connect_and_fail(const test_cert *id, ns_options *co, const char *node, server_job *job,
                             char *port, size_t port_len)
{
    ns_options *so = server_options(id);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    job->server = server;
    job->n = 1;
    snprintf(port, port_len, "%s", port_of(server));
    pthread_t t = spawn(serve, job);
    ns_socket *c = ns_make_client_tls_socket(node, port, co);
    int status = ns_last_status();
    char message[512];
    snprintf(message, sizeof message, "%s", ns_last_error());
    int code = ns_last_verify_code(), alert = ns_last_tls_alert(), sent = ns_last_tls_alert_sent();
    pthread_join(t, NULL);
    ns_socket_free(c);
    ns_socket_free(server);
    ns_options_free(so);
    /* The client's error state, as it was right after the failure. */
    keep_error_state(status, message, code, alert, sent);
}

static void test_host_name_mismatch_names_the_expected_and_held_names(void)
{
    tls_setup();
    ns_options *co = client_options(ca);
    ns_options_add_sni(co, "wrong.example");
    server_job job = {0};
    char port[16], want[256];
    connect_and_fail(server_cert, co, "127.0.0.1", &job, port, sizeof port);
    snprintf(want, sizeof want, "TLS handshake with 127.0.0.1:%s: certificate rejected at depth "
             "0: Hostname mismatch: expected \"wrong.example\", the certificate holds "
             "DNS:localhost, IP:127.0.0.1", port);
    CHECK_STR(test_error.message, want);
    CHECK_EQ(test_error.status, NS_ERR_CERTIFICATE);
    CHECK_EQ(test_error.verify_code, 62);
    CHECK_EQ(test_error.alert, 42); /* bad_certificate, sent by the client */
    CHECK_EQ(test_error.alert_sent, 1);
    /* The server received that alert. */
    CHECK_EQ(job.status[0], NS_ERR_TLS);
    CHECK(strstr(job.message[0], ": the peer sent the alert bad_certificate (42)") != NULL);
    ns_options_free(co);
}

static void test_expired_certificate_reports_its_verify_code(void)
{
    tls_setup();
    ns_options *co = client_options(ca);
    server_job job = {0};
    char port[16], want[256];
    connect_and_fail(expired_cert, co, "localhost", &job, port, sizeof port);
    snprintf(want, sizeof want, "TLS handshake with localhost:%s: certificate rejected at depth 0: "
             "certificate has expired", port);
    CHECK_STR(test_error.message, want);
    CHECK_EQ(test_error.verify_code, 10);
    CHECK_EQ(test_error.alert, 45); /* certificate_expired */
    CHECK_EQ(test_error.alert_sent, 1);
    ns_options_free(co);
}

static void test_verify_details_follow_the_error_state(void)
{
    tls_setup();
    ns_options *co = client_options(other_ca);
    server_job job = {0};
    char port[16];
    connect_and_fail(server_cert, co, "localhost", &job, port, sizeof port);
    CHECK_EQ(test_error.verify_code, 20); /* unable to get local issuer certificate */
    /* In the real error state until the next failure or ns_clear_error. */
    ns_socket *c = ns_make_client_tls_socket("localhost", port, co); /* refused now */
    CHECK(c == NULL);
    CHECK_EQ(ns_last_verify_code(), 0);
    CHECK_STR(ns_last_verify_message(), "");
    CHECK_EQ(ns_last_tls_alert(), -1);
    CHECK_STR(ns_tls_alert_name(40), "handshake_failure");
    CHECK_STR(ns_tls_alert_name(48), "unknown_ca");
    CHECK_STR(ns_tls_alert_name(999), "unknown");
    ns_clear_error();
    CHECK_EQ(ns_last_tls_alert_sent(), 0);
    ns_options_free(co);
}

/* A plain TCP server: accepts one client, reads what it sends, answers
 * `reply` (NULL: nothing) and closes. */
typedef struct {
    ns_socket *server;
    const char *reply;
} plain_job;

static void *plain_serve(void *arg)
{
    plain_job *job = arg;
    ns_socket *conn = ns_socket_accept(job->server);
    char hello[64];
    if (conn && ns_socket_recv(conn, hello, sizeof hello, 0) > 0 && job->reply)
        send_text(conn, job->reply);
    if (conn)
        ns_socket_shutdown(conn, SHUT_WR);
    ns_socket_free(conn);
    return NULL;
}

static void client_to_plain_server(const char *reply, const char *cause)
{
    tls_setup();
    ns_options *po = blocking_options(NS_SOCKET_OPTIONS, 5000000);
    plain_job job = {ns_make_server_socket("127.0.0.1", "0", po), reply};
    pthread_t t = spawn(plain_serve, &job);
    ns_options *co = client_options(ca);
    ns_socket *c = ns_make_client_tls_socket("127.0.0.1", port_of(job.server), co);
    CHECK(c == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_TLS);
    char want[300];
    snprintf(want, sizeof want, "TLS handshake with 127.0.0.1:%s: %s", port_of(job.server), cause);
    CHECK_STR(ns_last_error(), want);
    pthread_join(t, NULL);
    ns_socket_free(job.server);
    ns_options_free(po);
    ns_options_free(co);
}

static void test_client_to_a_plain_http_server_says_so(void)
{
    client_to_plain_server("HTTP/1.1 400 Bad Request\r\n\r\n",
                           "the peer does not speak TLS: it sent \"HTTP/1.1 400 Bad\" (plain HTTP?)");
}

static void test_client_to_a_server_that_closes_reports_a_truncated_handshake(void)
{
    client_to_plain_server(NULL, "the peer closed the connection before the handshake finished "
                                 "(handshake truncated; does the server speak TLS?)");
}

static const ns_test tests[] = {
    TEST(test_host_name_mismatch_names_the_expected_and_held_names),
    TEST(test_expired_certificate_reports_its_verify_code),
    TEST(test_verify_details_follow_the_error_state),
    TEST(test_client_to_a_plain_http_server_says_so),
    TEST(test_client_to_a_server_that_closes_reports_a_truncated_handshake),
    TEST(test_unknown_ca_is_rejected),
    TEST(test_system_store_does_not_trust_a_private_ca),
    TEST(test_expired_certificate_is_rejected),
    TEST(test_wrong_host_name_is_rejected),
    TEST(test_self_signed_certificate_is_rejected),
    TEST(test_verifier_accepting_overrides_the_library),
    TEST(test_verifier_rejecting_a_valid_chain),
    TEST(test_alpn_without_overlap_fails),
    TEST(test_plain_http_to_the_tls_port),
    TEST(test_silent_client_times_out_in_accept),
    TEST(test_truncated_handshake),
};
NS_TEST_MAIN(tests)
