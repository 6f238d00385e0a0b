/* TLS sockets: exchanges (ALPN, SNI, chains, client certificates), close_notify,
 * timeouts, non-blocking handshakes and I/O.  Failures: test_tls_rejections.c. */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tlstest.h"

static void test_exchange_with_alpn_sni_and_peer_certificate(void)
{
    tls_setup();
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
    tls_setup();
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
    tls_setup();
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
    /* The chain as sent, leaf first, and the key exchange (BoringSSL's default). */
    CHECK_EQ(ns_socket_peer_certificate_chain_count(c), 2);
    size_t len = 0;
    const unsigned char *der = ns_socket_peer_certificate_chain_at(c, 0, &len);
    CHECK(certgen_is(leaf, der, len));
    der = ns_socket_peer_certificate_chain_at(c, 1, &len);
    CHECK(certgen_is(mid, der, len));
    CHECK(ns_socket_peer_certificate_chain_at(c, 2, &len) == NULL && len == 0);
    CHECK_STR(ns_socket_key_exchange_group(c), "X25519");
    CHECK_EQ(ns_socket_peer_certificate_chain_count(server), 0);
    CHECK(ns_socket_key_exchange_group(server) == NULL);
    CHECK_EQ(ns_socket_peer_certificate_chain_count(NULL), 0);
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
    tls_setup();
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
    tls_setup();
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
    tls_setup();
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
    tls_setup();
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
    char want[160];
    snprintf(want, sizeof want, "TLS recv from localhost:%s: the peer sent the alert "
             "certificate_required (116)", port_of(server));
    CHECK_STR(ns_last_error(), want);
    CHECK_EQ(ns_last_tls_alert(), 116);
    CHECK_EQ(ns_last_tls_alert_sent(), 0);
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
    tls_setup();
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
    tls_setup();
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
    tls_setup();
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
    tls_setup();
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
    tls_setup();
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
    tls_setup();
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
    tls_setup();
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
