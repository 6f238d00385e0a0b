/* TLS sockets: the (rfc tls) scenarios, secure defaults, every bad case,
 * and that the server serves the next client after each failure. */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "certgen.h"
#include "testlib.h"

static test_cert *ca, *server_cert, *client_cert, *expired_cert, *self_signed, *other_ca;

static void setup(void)
{
    if (ca)
        return;
    ca = certgen_ca("netsocket test CA");
    server_cert = certgen_leaf(ca, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 365);
    client_cert = certgen_leaf(ca, "client", "DNS:client.test", -1, 365);
    expired_cert = certgen_leaf(ca, "localhost", "DNS:localhost,IP:127.0.0.1", -30, -1);
    self_signed = certgen_leaf(NULL, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 365);
    other_ca = certgen_ca("another CA");
}

static void add_identity(ns_options *o, const test_cert *c)
{
    const char *crt = certgen_cert_pem(c), *key = certgen_key_pem(c);
    if (ns_options_add_certificate(o, crt, strlen(crt)) != NS_OK ||
        ns_options_set_private_key(o, key, strlen(key)) != NS_OK)
        abort();
}

static void trust(ns_options *o, const test_cert *c)
{
    const char *crt = certgen_cert_pem(c);
    if (ns_options_add_trusted_certificate(o, crt, strlen(crt)) != NS_OK)
        abort();
}

/* Blocking server TLS options with identity `c`; read timeout 5 s. */
static ns_options *server_options(const test_cert *c)
{
    ns_options *o = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, 5000000);
    add_identity(o, c);
    return o;
}

/* Blocking client TLS options trusting `anchor` (NULL: the system store). */
static ns_options *client_options(const test_cert *anchor)
{
    ns_options *o = blocking_options(NS_TLS_SOCKET_OPTIONS, 5000000);
    if (anchor)
        trust(o, anchor);
    return o;
}

/* A server thread: accepts n clients in turn, records each outcome, and
 * runs `behave` on each accepted connection. */
typedef struct {
    ns_socket *server;
    int n;
    void (*behave)(ns_socket *conn);
    int status[4];
    char message[4][512];
    char sni[64], alpn[32];
    unsigned char peer[4096];
    size_t peer_len;
} server_job;

static void *serve(void *arg)
{
    server_job *job = arg;
    for (int i = 0; i < job->n; i++) {
        ns_socket *conn = ns_socket_accept(job->server);
        job->status[i] = conn ? NS_OK : ns_last_status();
        snprintf(job->message[i], sizeof job->message[i], "%s", conn ? "" : ns_last_error());
        if (!conn)
            continue;
        const char *sni = ns_socket_server_name(conn), *alpn = ns_socket_selected_alpn(conn);
        snprintf(job->sni, sizeof job->sni, "%s", sni ? sni : "");
        snprintf(job->alpn, sizeof job->alpn, "%s", alpn ? alpn : "");
        size_t len = 0;
        const unsigned char *der = ns_socket_peer_certificate(conn, &len);
        job->peer_len = der && len <= sizeof job->peer ? len : 0;
        if (job->peer_len)
            memcpy(job->peer, der, len);
        if (job->behave)
            job->behave(conn);
        ns_socket_free(conn);
    }
    return NULL;
}

/* Sends a line and checks it comes back. */
static int round_trip(ns_socket *c)
{
    char buf[32] = {0};
    return ns_socket_send_all(c, "ping\n", 5, 0) == 5 &&
           ns_socket_recv(c, buf, sizeof buf, 0) == 5 && memcmp(buf, "ping\n", 5) == 0;
}

static void test_exchange_with_alpn_sni_and_peer_certificate(void)
{
    setup();
    ns_options *so = server_options(server_cert);
    ns_options_add_alpn(so, "h2");
    ns_options_add_alpn(so, "http/1.1");
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    CHECK(server != NULL);
    CHECK(ns_socket_is_tls(server));
    server_job job = {.server = server, .n = 1, .behave = echo_line};
    pthread_t t = spawn(serve, &job);
    ns_options *co = client_options(ca);
    ns_options_add_alpn(co, "http/1.1");
    ns_options_add_alpn(co, "h2");
    ns_options_add_sni(co, "localhost");
    ns_socket *c = ns_make_client_tls_socket("127.0.0.1", port_of(server), co);
    CHECK(c != NULL);
    CHECK(round_trip(c));
    /* The server chooses by its own preference. */
    CHECK(strcmp(ns_socket_selected_alpn(c), "h2") == 0);
    CHECK(strcmp(ns_socket_tls_version(c), "TLSv1.3") == 0);
    CHECK(ns_socket_tls_cipher(c) != NULL && strncmp(ns_socket_tls_cipher(c), "TLS_", 4) == 0);
    size_t len = 0, want_len = 0;
    const unsigned char *der = ns_socket_peer_certificate(c, &len);
    const unsigned char *want = certgen_cert_der(server_cert, &want_len);
    CHECK(der != NULL && len == want_len && memcmp(der, want, len) == 0);
    pthread_join(t, NULL);
    CHECK_EQ(job.status[0], NS_OK);
    CHECK(strcmp(job.sni, "localhost") == 0);
    CHECK(strcmp(job.alpn, "h2") == 0);
    CHECK_EQ(job.peer_len, 0); /* no client certificate asked for */
    CHECK(ns_socket_server_name(c) == NULL);
    ns_socket_free(c);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
}

static void test_no_sni_for_an_ip_literal_and_host_checked_by_ip(void)
{
    setup();
    ns_options *so = server_options(server_cert);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    server_job job = {.server = server, .n = 1, .behave = echo_line};
    pthread_t t = spawn(serve, &job);
    ns_options *co = client_options(ca);
    ns_socket *c = ns_socket_connect(co, "127.0.0.1", port_of(server));
    CHECK(c != NULL);
    CHECK(ns_socket_is_tls(c));
    CHECK(round_trip(c));
    pthread_join(t, NULL);
    CHECK_EQ(job.status[0], NS_OK);
    CHECK(strcmp(job.sni, "") == 0);
    ns_socket_free(c);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
}

static void test_chain_from_files_and_der_key(void)
{
    setup();
    test_cert *mid = certgen_intermediate(ca, "intermediate CA");
    test_cert *leaf = certgen_leaf(mid, "localhost", "DNS:localhost", -1, 30);
    char dir[] = "/tmp/ns-chain-XXXXXX", chain[600];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(chain, sizeof chain, "%s/chain.pem", dir);
    FILE *f = fopen(chain, "w");
    CHECK(f != NULL);
    fputs(certgen_cert_pem(leaf), f); /* the leaf, then its issuer: one PEM */
    fputs(certgen_cert_pem(mid), f);
    fclose(f);
    ns_options *so = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, 5000000);
    size_t key_len;
    const unsigned char *key = certgen_key_der(leaf, &key_len);
    CHECK_EQ(ns_options_add_certificate_file(so, chain), NS_OK);
    CHECK_EQ(ns_options_certificate_count(so), 2);
    CHECK_EQ(ns_options_set_private_key(so, key, key_len), NS_OK);
    unlink(chain);
    rmdir(dir);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    CHECK(server != NULL);
    server_job job = {.server = server, .n = 1, .behave = echo_line};
    pthread_t t = spawn(serve, &job);
    /* The client trusts only the root: the server must send the intermediate. */
    ns_options *co = client_options(ca);
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), co);
    CHECK(c != NULL);
    CHECK(round_trip(c));
    pthread_join(t, NULL);
    ns_socket_free(c);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
    certgen_free(leaf);
    certgen_free(mid);
}

static void reply_after_end_of_stream(ns_socket *conn)
{
    char buf[64];
    size_t got = 0;
    ssize_t n;
    while ((n = ns_socket_recv(conn, buf + got, sizeof buf - got, 0)) > 0)
        got += (size_t)n;
    if (n == 0) /* close_notify seen: answer on the still-open direction */
        ns_socket_send_all(conn, buf, got, 0);
}

static void test_shutdown_write_sends_close_notify_and_keeps_reading(void)
{
    setup();
    ns_options *so = server_options(server_cert);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    server_job job = {.server = server, .n = 1, .behave = reply_after_end_of_stream};
    pthread_t t = spawn(serve, &job);
    ns_options *co = client_options(ca);
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), co);
    CHECK(c != NULL);
    CHECK_EQ(ns_socket_send_all(c, "half", 4, 0), 4);
    CHECK_EQ(ns_socket_shutdown(c, SHUT_WR), NS_OK);
    CHECK_EQ(ns_socket_send(c, "x", 1, 0), NS_ERR_CLOSED); /* no writing after close_notify */
    char buf[8] = {0};
    CHECK_EQ(ns_socket_recv(c, buf, sizeof buf, 0), 4);
    CHECK(memcmp(buf, "half", 4) == 0);
    pthread_join(t, NULL);
    ns_socket_free(c);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
}

static void test_client_certificate_presented_and_absent(void)
{
    setup();
    ns_options *so = server_options(server_cert);
    trust(so, ca);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    server_job job = {.server = server, .n = 2, .behave = echo_line};
    pthread_t t = spawn(serve, &job);
    ns_options *with = client_options(ca);
    add_identity(with, client_cert);
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), with);
    CHECK(c != NULL);
    CHECK(round_trip(c));
    ns_socket_free(c);
    ns_options *without = client_options(ca);
    ns_socket *c2 = ns_make_client_tls_socket("localhost", port_of(server), without);
    CHECK(c2 != NULL);
    CHECK(round_trip(c2));
    ns_socket_free(c2);
    pthread_join(t, NULL);
    CHECK_EQ(job.status[0], NS_OK);
    CHECK_EQ(job.status[1], NS_OK);
    CHECK_EQ(job.peer_len, 0); /* the last client sent none */
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(with);
    ns_options_free(without);
}

static void test_mutual_tls_server_sees_the_client_certificate(void)
{
    setup();
    ns_options *so = server_options(server_cert);
    trust(so, ca);
    ns_options_set_client_certificate_required(so, 1);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    server_job job = {.server = server, .n = 1, .behave = echo_line};
    pthread_t t = spawn(serve, &job);
    ns_options *co = client_options(ca);
    add_identity(co, client_cert);
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), co);
    CHECK(c != NULL);
    CHECK(round_trip(c));
    pthread_join(t, NULL);
    CHECK_EQ(job.status[0], NS_OK);
    size_t want_len;
    const unsigned char *want = certgen_cert_der(client_cert, &want_len);
    CHECK(job.peer_len == want_len && memcmp(job.peer, want, want_len) == 0);
    ns_socket_free(c);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
}

static void test_required_client_certificate_absent_fails_at_first_read(void)
{
    setup();
    ns_options *so = server_options(server_cert);
    trust(so, ca);
    ns_options_set_client_certificate_required(so, 1);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    server_job job = {.server = server, .n = 2, .behave = echo_line};
    pthread_t t = spawn(serve, &job);
    ns_options *co = client_options(ca);
    /* TLS 1.3: the client's handshake finishes before the server judges it. */
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), co);
    CHECK(c != NULL);
    char buf[16];
    CHECK_EQ(ns_socket_recv(c, buf, sizeof buf, 0), NS_ERR_TLS);
    CHECK_ERROR_HAS("certificate required");
    ns_socket_free(c);
    /* The server reported it and serves the next client. */
    add_identity(co, client_cert);
    ns_socket *c2 = ns_make_client_tls_socket("localhost", port_of(server), co);
    CHECK(c2 != NULL);
    CHECK(round_trip(c2));
    pthread_join(t, NULL);
    CHECK_EQ(job.status[0], NS_ERR_CERTIFICATE);
    CHECK(strstr(job.message[0], "no certificate") != NULL);
    CHECK_EQ(job.status[1], NS_OK);
    ns_socket_free(c2);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
}

/* A client that must be rejected with NS_ERR_CERTIFICATE and `why`, after
 * which the same server serves a good client. */
static void expect_rejected(const test_cert *server_identity, ns_options *co, const char *node,
                            const char *why)
{
    setup();
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
    setup();
    ns_options *co = client_options(other_ca);
    expect_rejected(server_cert, co, "localhost", "unable to get local issuer certificate");
    ns_options_free(co);
}

static void test_system_store_does_not_trust_a_private_ca(void)
{
    setup();
    ns_options *co = client_options(NULL);
    expect_rejected(server_cert, co, "localhost", "certificate rejected at depth");
    ns_options_free(co);
}

static void test_expired_certificate_is_rejected(void)
{
    setup();
    ns_options *co = client_options(ca);
    expect_rejected(expired_cert, co, "localhost", "expired");
    ns_options_free(co);
}

static void test_wrong_host_name_is_rejected(void)
{
    setup();
    ns_options *co = client_options(ca);
    ns_options_add_sni(co, "wrong.example");
    expect_rejected(server_cert, co, "127.0.0.1", "mismatch");
    ns_options_free(co);
}

static void test_self_signed_certificate_is_rejected(void)
{
    setup();
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
    setup();
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
    setup();
    ns_options *co = client_options(ca);
    verifier_log log = {.verdict = 0};
    ns_options_set_certificate_verifier(co, logging_verifier, &log);
    expect_rejected(server_cert, co, "localhost", "verifier rejected");
    CHECK(log.calls >= 1);
    ns_options_free(co);
}

static void test_alpn_without_overlap_fails(void)
{
    setup();
    ns_options *so = server_options(server_cert);
    ns_options_add_alpn(so, "h2");
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    server_job job = {.server = server, .n = 2, .behave = echo_line};
    pthread_t t = spawn(serve, &job);
    ns_options *co = client_options(ca);
    ns_options_add_alpn(co, "imap");
    CHECK(ns_make_client_tls_socket("localhost", port_of(server), co) == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_TLS);
    CHECK_ERROR_HAS("no application protocol");
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

/* A misbehaving plain-TCP client, then a good TLS client. */
static void expect_server_survives(int64_t server_read_timeout, const void *bytes, size_t len,
                                   int expect_status, const char *why)
{
    setup();
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
    CHECK(strstr(job.message[0], why) != NULL);
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
    expect_server_survives(5000000, http, strlen(http), NS_ERR_TLS, "TLS handshake with 127.0.0.1");
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
    expect_server_survives(5000000, partial, sizeof partial, NS_ERR_TLS, "truncated");
}

static void test_tls_server_needs_certificate_and_key(void)
{
    ns_options *so = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    CHECK(ns_make_server_tls_socket("127.0.0.1", "0", so) == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_INVALID);
    CHECK_ERROR_HAS("certificates and a private key");
    CHECK(ns_make_server_tls_socket("127.0.0.1", "0", NULL) == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_INVALID);
    ns_options_free(so);
}

static void test_read_timeout_applies_to_tls_recv(void)
{
    setup();
    ns_options *so = server_options(server_cert);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    server_job job = {.server = server, .n = 1, .behave = wait_for_close};
    pthread_t t = spawn(serve, &job);
    ns_options *co = client_options(ca);
    ns_options_set_read_timeout(co, 100000);
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), co);
    CHECK(c != NULL);
    char buf[8];
    int64_t start = now_us();
    CHECK_EQ(ns_socket_recv(c, buf, sizeof buf, 0), NS_ERR_READ_TIMEOUT);
    CHECK(now_us() - start >= 100000);
    CHECK_ERROR_HAS("TLS recv from localhost");
    ns_socket_free(c);
    pthread_join(t, NULL);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
}

static int wait_readable(ns_socket *s, short events)
{
    struct pollfd p = {.fd = ns_socket_fd(s), .events = events};
    return poll(&p, 1, 5000);
}

static void send_hello_on_go(ns_socket *conn)
{
    char go[2];
    if (ns_socket_recv(conn, go, 2, MSG_WAITALL) == 2)
        ns_socket_send_all(conn, "hello", 5, 0);
    wait_for_close(conn);
}

static void test_non_blocking_handshake_and_recv(void)
{
    setup();
    ns_options *so = server_options(server_cert);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    server_job job = {.server = server, .n = 1, .behave = send_hello_on_go};
    pthread_t t = spawn(serve, &job);
    ns_options *co = client_options(ca);
    ns_options_set_non_blocking(co, 1);
    ns_options_set_handshake(co, 0);
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), co);
    CHECK(c != NULL);
    CHECK(ns_socket_tls_version(c) == NULL); /* not yet */
    int rc = NS_ERR_WOULD_BLOCK, rounds = 0;
    while (rc == NS_ERR_WOULD_BLOCK && rounds++ < 100) {
        rc = ns_socket_handshake(c);
        if (rc == NS_ERR_WOULD_BLOCK)
            wait_readable(c, POLLIN);
    }
    CHECK_EQ(rc, NS_OK);
    CHECK(ns_socket_tls_version(c) != NULL);
    char buf[16] = {0};
    /* The server sends nothing until it hears "go". */
    CHECK_EQ(ns_socket_recv(c, buf, sizeof buf, 0), NS_ERR_WOULD_BLOCK);
    CHECK_EQ(ns_socket_send_all(c, "go", 2, 0), 2);
    ssize_t n = NS_ERR_WOULD_BLOCK;
    for (int i = 0; i < 100 && n == NS_ERR_WOULD_BLOCK; i++) {
        wait_readable(c, POLLIN);
        n = ns_socket_recv(c, buf, sizeof buf, 0);
    }
    CHECK_EQ(n, 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    ns_socket_free(c);
    pthread_join(t, NULL);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
}

static void *client_handshake(void *c)
{
    ns_socket_handshake(c);
    return NULL;
}

typedef struct {
    ns_socket *server;
    size_t got;
    int go;
} slow_reader;

/* Accepts, waits for the go signal, then reads everything. */
static void *read_after_go(void *arg)
{
    slow_reader *r = arg;
    ns_socket *conn = ns_socket_accept(r->server);
    for (int i = 0; i < 1000 && !__atomic_load_n(&r->go, __ATOMIC_ACQUIRE); i++)
        usleep(5000);
    static char buf[65536];
    ssize_t n;
    while (conn && (n = ns_socket_recv(conn, buf, sizeof buf, 0)) > 0)
        r->got += (size_t)n;
    ns_socket_free(conn);
    return NULL;
}

static void test_non_blocking_send_would_block_and_resumes(void)
{
    setup();
    ns_options *so = server_options(server_cert);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    slow_reader r = {server, 0, 0};
    pthread_t t = spawn(read_after_go, &r);
    ns_options *co = client_options(ca);
    ns_options_set_non_blocking(co, 1);
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), co);
    CHECK(c != NULL);
    static char block[16384];
    size_t sent = 0;
    ssize_t n = 0;
    /* Fill the socket buffers until the library says it would block. */
    for (int i = 0; i < 10000 && n >= 0; i++) {
        n = ns_socket_send(c, block, sizeof block, 0);
        if (n > 0)
            sent += (size_t)n;
    }
    CHECK_EQ(n, NS_ERR_WOULD_BLOCK);
    CHECK(sent > 0);
    __atomic_store_n(&r.go, 1, __ATOMIC_RELEASE);
    /* Resume: the same call now goes through once the reader drains. */
    n = NS_ERR_WOULD_BLOCK;
    for (int i = 0; i < 1000 && n == NS_ERR_WOULD_BLOCK; i++) {
        n = ns_socket_send(c, block, sizeof block, 0);
        if (n == NS_ERR_WOULD_BLOCK)
            usleep(2000);
    }
    CHECK(n > 0);
    sent += (size_t)n;
    CHECK_EQ(ns_socket_send_all(c, block, sizeof block, 0), (long long)sizeof block);
    sent += sizeof block;
    ns_socket_close(c);
    pthread_join(t, NULL);
    CHECK_EQ(r.got, sent);
    ns_socket_free(c);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
}

static void test_server_handshake_zero_then_explicit(void)
{
    setup();
    ns_options *so = server_options(server_cert);
    ns_options_set_handshake(so, 0);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    ns_options *co = client_options(ca);
    ns_options_set_handshake(co, 0);
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), co);
    CHECK(c != NULL);
    ns_socket *conn = ns_socket_accept(server);
    CHECK(conn != NULL);
    CHECK(ns_socket_tls_version(conn) == NULL);
    /* Both sides are blocking: drive the client from a thread. */
    pthread_t t = spawn(client_handshake, c);
    CHECK_EQ(ns_socket_handshake(conn), NS_OK);
    pthread_join(t, NULL);
    CHECK_EQ(ns_socket_handshake(conn), NS_OK); /* again: already done */
    CHECK(strcmp(ns_socket_tls_version(conn), "TLSv1.3") == 0);
    CHECK_EQ(ns_socket_send_all(conn, "hi", 2, 0), 2);
    char buf[4];
    CHECK_EQ(ns_socket_recv(c, buf, sizeof buf, 0), 2);
    ns_socket_free(conn);
    ns_socket_free(c);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
}

static void send_bye_and_close(ns_socket *conn)
{
    ns_socket_send_all(conn, "bye", 3, 0);
    ns_socket_close(conn);
}

static void send_bye_and_vanish(ns_socket *conn)
{
    ns_socket_send_all(conn, "bye", 3, 0);
    /* Drop the TCP connection under TLS: no close_notify. */
    shutdown(ns_socket_fd(conn), SHUT_RDWR);
}

static void expect_end(void (*behave)(ns_socket *), ssize_t expect, const char *why)
{
    setup();
    ns_options *so = server_options(server_cert);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    server_job job = {.server = server, .n = 1, .behave = behave};
    pthread_t t = spawn(serve, &job);
    ns_options *co = client_options(ca);
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), co);
    CHECK(c != NULL);
    char buf[8] = {0};
    CHECK_EQ(ns_socket_recv(c, buf, sizeof buf, 0), 3);
    CHECK_EQ(ns_socket_recv(c, buf, sizeof buf, 0), expect);
    if (why)
        CHECK_ERROR_HAS(why);
    pthread_join(t, NULL);
    ns_socket_free(c);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
}

static void test_close_notify_is_an_orderly_end(void) { expect_end(send_bye_and_close, 0, NULL); }

static void test_peer_vanishing_without_close_notify_is_reported(void)
{
    expect_end(send_bye_and_vanish, NS_ERR_CLOSED, "without close_notify");
}

static void send_big_record(ns_socket *conn)
{
    char msg[1000];
    memset(msg, 'x', sizeof msg);
    ns_socket_send_all(conn, msg, sizeof msg, 0);
    wait_for_close(conn);
}

static void test_pending_counts_buffered_plaintext(void)
{
    setup();
    ns_options *so = server_options(server_cert);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    server_job job = {.server = server, .n = 1, .behave = send_big_record};
    pthread_t t = spawn(serve, &job);
    ns_options *co = client_options(ca);
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), co);
    CHECK(c != NULL);
    CHECK_EQ(ns_socket_pending(c), 0);
    char buf[10];
    CHECK_EQ(ns_socket_recv(c, buf, sizeof buf, 0), 10);
    CHECK_EQ(ns_socket_pending(c), 990);
    ns_socket_free(c);
    pthread_join(t, NULL);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
}

static void test_connection_timeout_bounds_the_handshake(void)
{
    /* A plain server that never accepts: TCP connects, TLS never answers. */
    ns_socket *mute = ns_make_server_socket("127.0.0.1", "0", NULL);
    ns_options *co = client_options(NULL);
    ns_options_set_connection_timeout(co, 200000);
    int64_t start = now_us();
    CHECK(ns_make_client_tls_socket("127.0.0.1", port_of(mute), co) == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_CONNECT_TIMEOUT);
    CHECK_ERROR_HAS("TLS handshake");
    CHECK(now_us() - start < SLACK(2000000));
    ns_socket_free(mute);
    ns_options_free(co);
}

static void test_plain_options_to_a_tls_constructor_get_tls_defaults(void)
{
    setup();
    ns_options *so = server_options(server_cert);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    server_job job = {.server = server, .n = 1, .behave = echo_line};
    pthread_t t = spawn(serve, &job);
    ns_options *po = blocking_options(NS_SOCKET_OPTIONS, 5000000);
    /* Defaults verify against the system store: our private CA fails. */
    CHECK(ns_make_client_tls_socket("localhost", port_of(server), po) == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_CERTIFICATE);
    pthread_join(t, NULL);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(po);
}

static const ns_test tests[] = {
    TEST(test_exchange_with_alpn_sni_and_peer_certificate),
    TEST(test_no_sni_for_an_ip_literal_and_host_checked_by_ip),
    TEST(test_chain_from_files_and_der_key),
    TEST(test_shutdown_write_sends_close_notify_and_keeps_reading),
    TEST(test_client_certificate_presented_and_absent),
    TEST(test_mutual_tls_server_sees_the_client_certificate),
    TEST(test_required_client_certificate_absent_fails_at_first_read),
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
    TEST(test_tls_server_needs_certificate_and_key),
    TEST(test_read_timeout_applies_to_tls_recv),
    TEST(test_non_blocking_handshake_and_recv),
    TEST(test_non_blocking_send_would_block_and_resumes),
    TEST(test_server_handshake_zero_then_explicit),
    TEST(test_close_notify_is_an_orderly_end),
    TEST(test_peer_vanishing_without_close_notify_is_reported),
    TEST(test_pending_counts_buffered_plaintext),
    TEST(test_connection_timeout_bounds_the_handshake),
    TEST(test_plain_options_to_a_tls_constructor_get_tls_defaults),
};
NS_TEST_MAIN(tests)
