/* write-timeout and NS_ERR_WRITE_TIMEOUT: a peer that stops reading holds
 * a send at most that long, blocking or not, plain or TLS; send_all on a
 * non-blocking TLS socket finishes a pending handshake (issue 14 item 6);
 * a TLS send retried after NS_ERR_WOULD_BLOCK must pass the same bytes. */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "certgen.h"
#include "testlib.h"

#define BIG (8 << 20) /* far more than loopback buffers hold */

static char *big_buffer(void)
{
    char *b = malloc(BIG);
    for (size_t i = 0; b && i < BIG; i++)
        b[i] = (char)(i * 7 + i / 251);
    return b;
}

static void test_write_timeout_option_defaults_copies_and_inherits(void)
{
    CHECK_STR(ns_status_name(NS_ERR_WRITE_TIMEOUT), "NS_ERR_WRITE_TIMEOUT");
    CHECK_EQ(NS_ERR_WRITE_TIMEOUT, -12);
    ns_options *o = ns_options_new(NS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_get_write_timeout(o), -1);
    CHECK_EQ(ns_options_get_write_timeout(NULL), -1);
    CHECK_EQ(ns_options_set_write_timeout(NULL, 5), NS_ERR_INVALID);
    CHECK_EQ(ns_options_set_write_timeout(o, 250000), NS_OK);
    CHECK_EQ(ns_options_get_write_timeout(o), 250000);
    CHECK_EQ(ns_options_set_write_timeout(o, -7), NS_OK);
    CHECK_EQ(ns_options_get_write_timeout(o), -1);
    CHECK_EQ(ns_options_set_write_timeout(o, 300000), NS_OK);
    ns_options *copy = ns_options_copy(o, NS_TLS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_get_write_timeout(copy), 300000);
    ns_socket *server = ns_make_server_socket("127.0.0.1", "0", o);
    ns_socket *client = ns_make_client_socket("127.0.0.1", port_of(server), o);
    ns_socket *conn = ns_socket_accept(server);
    CHECK(server && client);
    for (int i = 0; i < 100 && !conn; i++) {
        usleep(1000);
        conn = ns_socket_accept(server);
    }
    CHECK(conn != NULL);
    CHECK_EQ(ns_socket_get_write_timeout(client), 300000);
    CHECK_EQ(ns_socket_get_write_timeout(conn), 300000);
    CHECK_EQ(ns_socket_set_write_timeout(client, 5), NS_OK);
    CHECK_EQ(ns_socket_get_write_timeout(client), 5);
    CHECK_EQ(ns_socket_set_write_timeout(NULL, 5), NS_ERR_INVALID);
    CHECK_EQ(ns_socket_get_write_timeout(NULL), -1);
    ns_socket_free(conn);
    ns_socket_free(client);
    ns_socket_free(server);
    ns_options_free(copy);
    ns_options_free(o);
}

/* A peer that accepts and never reads; the client side is returned. */
typedef struct {
    ns_socket *server, *client, *conn;
} stalled;

static int stall(stalled *st, const ns_options *server_opts, const ns_options *client_opts,
                 int tls, void *(*accept_fn)(void *))
{
    st->server = tls ? ns_make_server_tls_socket("127.0.0.1", "0", server_opts)
                     : ns_make_server_socket("127.0.0.1", "0", server_opts);
    if (!st->server)
        return 0;
    pthread_t t = spawn(accept_fn, st);
    st->client = tls ? ns_make_client_tls_socket("localhost", port_of(st->server), client_opts)
                     : ns_make_client_socket("127.0.0.1", port_of(st->server), client_opts);
    pthread_join(t, NULL);
    return st->client && st->conn;
}

static void *accept_one(void *arg)
{
    stalled *st = arg;
    st->conn = ns_socket_accept(st->server);
    return NULL;
}

static void unstall(stalled *st)
{
    ns_socket_free(st->conn);
    ns_socket_free(st->client);
    ns_socket_free(st->server);
}

/* Reads st->conn until end of stream; returns the byte count read and
 * checks them against big_buffer()'s pattern. */
static void *read_all_and_compare(void *arg)
{
    stalled *st = arg;
    char *want = big_buffer(), *buf = malloc(65536);
    size_t got = 0;
    int same = 1;
    for (int i = 0; i < 1000000; i++) {
        ssize_t n = ns_socket_recv(st->conn, buf, 65536, 0);
        if (n <= 0 || got + (size_t)n > BIG)
            break;
        same &= memcmp(buf, want + got, (size_t)n) == 0;
        got += (size_t)n;
    }
    free(want);
    free(buf);
    return (void *)(intptr_t)(same ? (intptr_t)got : -1);
}

/* send_all to a peer that never reads: NS_ERR_WRITE_TIMEOUT after the
 * write timeout, and the message says what and how far it got. */
static void check_send_all_times_out(int tls, int non_blocking)
{
    tls_fixture f;
    CHECK(tls_fixture_init(&f));
    int64_t timeout = SLACK(200000);
    ns_options *so = tls ? f.server : ns_options_new(NS_SOCKET_OPTIONS);
    ns_options *co = tls ? f.client : ns_options_new(NS_SOCKET_OPTIONS);
    ns_options_set_non_blocking(so, 0);
    ns_options_set_non_blocking(co, non_blocking);
    ns_options_set_write_timeout(co, timeout);
    stalled st;
    CHECK(stall(&st, so, co, tls, accept_one));
    char *buf = big_buffer();
    int64_t start = now_us();
    CHECK_EQ(ns_socket_send_all(st.client, buf, BIG, 0), NS_ERR_WRITE_TIMEOUT);
    int64_t took = now_us() - start;
    CHECK(took >= timeout - 1000 && took < timeout + SLACK(300000));
    CHECK_EQ(ns_last_os_error(), ETIMEDOUT);
    size_t sent = 0;
    const char *msg = ns_last_error();
    const char *open = strrchr(msg, '(');
    CHECK(open && sscanf(open, "(%zu of", &sent) == 1);
    CHECK(sent > 0 && sent < BIG);
    char want[200];
    if (tls) /* TLS messages name the node given */
        snprintf(want, sizeof want,
                 "TLS send to localhost:%s: timed out after %lld us (%zu of %d bytes sent)",
                 port_of(st.server), (long long)timeout, sent, BIG);
    else
        snprintf(want, sizeof want,
                 "send to 127.0.0.1:%s timed out after %lld us (%zu of %d bytes sent)",
                 port_of(st.server), (long long)timeout, sent, BIG);
    CHECK_STR(msg, want);
    CHECK_EQ(ns_socket_wants(st.client), 0);
    free(buf);
    unstall(&st);
    if (!tls) {
        ns_options_free(so);
        ns_options_free(co);
    }
    tls_fixture_free(&f);
}

static void test_plain_blocking_send_all_times_out(void) { check_send_all_times_out(0, 0); }
static void test_plain_non_blocking_send_all_times_out(void) { check_send_all_times_out(0, 1); }
static void test_tls_blocking_send_all_times_out(void) { check_send_all_times_out(1, 0); }
static void test_tls_non_blocking_send_all_times_out(void) { check_send_all_times_out(1, 1); }

/* A blocking send (one call) waits at most the write timeout too. */
static void test_blocking_send_times_out_once_the_buffer_is_full(void)
{
    ns_options *o = ns_options_new(NS_SOCKET_OPTIONS);
    ns_options_set_non_blocking(o, 0);
    int64_t timeout = SLACK(150000);
    ns_options_set_write_timeout(o, timeout);
    stalled st;
    CHECK(stall(&st, o, o, 0, accept_one));
    char *buf = big_buffer();
    ssize_t n = 0;
    int calls = 0;
    int64_t start = 0;
    while (calls++ < 1000 && (start = now_us(), n = ns_socket_send(st.client, buf, 65536, 0)) > 0) {
    }
    int64_t took = now_us() - start;
    CHECK_EQ(n, NS_ERR_WRITE_TIMEOUT);
    char want[128];
    snprintf(want, sizeof want, "send to 127.0.0.1:%s timed out after %lld us", port_of(st.server),
             (long long)timeout);
    CHECK_STR(ns_last_error(), want);
    CHECK(took >= timeout - 1000 && took < timeout + SLACK(300000));
    free(buf);
    unstall(&st);
    ns_options_free(o);
}

/* Without a write timeout, send_all on a non-blocking socket waits for a
 * peer that reads late, and every byte arrives. */
static void *read_late(void *arg)
{
    usleep(200000);
    return read_all_and_compare(arg);
}

static void test_send_all_without_write_timeout_waits_for_a_slow_reader(void)
{
    ns_options *so = ns_options_new(NS_SOCKET_OPTIONS);
    ns_options_set_non_blocking(so, 0);
    ns_options *co = ns_options_new(NS_SOCKET_OPTIONS); /* non-blocking */
    stalled st;
    CHECK(stall(&st, so, co, 0, accept_one));
    pthread_t t = spawn(read_late, &st);
    char *buf = big_buffer();
    CHECK_EQ(ns_socket_send_all(st.client, buf, BIG, 0), BIG);
    ns_socket_close(st.client);
    void *got;
    pthread_join(t, &got);
    CHECK_EQ((intptr_t)got, BIG);
    free(buf);
    unstall(&st);
    ns_options_free(so);
    ns_options_free(co);
}

/* Issue 14 item 6: send_all on a non-blocking TLS client whose handshake
 * is pending (handshake 0) completes the handshake and sends; the server
 * receives every byte. */
static void test_send_all_finishes_a_pending_tls_handshake(void)
{
    tls_fixture f;
    CHECK(tls_fixture_init(&f));
    ns_options_set_non_blocking(f.server, 0);
    ns_options_set_read_timeout(f.server, SLACK(5000000));
    ns_options_set_handshake(f.client, 0);
    stalled st = {NULL, NULL, NULL};
    st.server = ns_make_server_tls_socket("127.0.0.1", "0", f.server);
    CHECK(st.server != NULL);
    pthread_t t = spawn(accept_one, &st);
    st.client = ns_make_client_tls_socket("localhost", port_of(st.server), f.client);
    CHECK(st.client != NULL);
    CHECK_EQ(ns_socket_is_non_blocking(st.client), 1);
    CHECK_EQ(ns_socket_send_all(st.client, "hello", 5, 0), 5);
    pthread_join(t, NULL);
    CHECK(st.conn != NULL);
    char buf[8];
    CHECK_EQ(ns_socket_recv(st.conn, buf, 5, MSG_WAITALL), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_STR(ns_socket_tls_version(st.client), "TLSv1.3");
    unstall(&st);
    tls_fixture_free(&f);
}

/* The handshake inside send_all is bounded: by the write timeout here (a
 * "TLS server" that accepts and never speaks). */
static void test_send_all_on_a_silent_tls_peer_times_out(void)
{
    tls_fixture f;
    CHECK(tls_fixture_init(&f));
    ns_options *po = ns_options_new(NS_SOCKET_OPTIONS);
    ns_socket *silent = ns_make_server_socket("127.0.0.1", "0", po);
    CHECK(silent != NULL);
    ns_options_set_handshake(f.client, 0);
    int64_t timeout = SLACK(200000);
    ns_options_set_write_timeout(f.client, timeout);
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(silent), f.client);
    CHECK(c != NULL);
    int64_t start = now_us();
    CHECK_EQ(ns_socket_send_all(c, "hello", 5, 0), NS_ERR_WRITE_TIMEOUT);
    int64_t took = now_us() - start;
    char want[160];
    snprintf(want, sizeof want,
             "TLS handshake with localhost:%s: timed out after %lld us (0 of 5 bytes sent)",
             port_of(silent), (long long)timeout);
    CHECK_STR(ns_last_error(), want);
    CHECK(took >= timeout - 1000 && took < timeout + SLACK(300000));
    /* Without a write timeout the handshake's own bound (read timeout). */
    ns_socket_free(c);
    ns_options_set_write_timeout(f.client, -1);
    ns_options_set_read_timeout(f.client, timeout);
    c = ns_make_client_tls_socket("localhost", port_of(silent), f.client);
    CHECK(c != NULL);
    CHECK_EQ(ns_socket_send_all(c, "hello", 5, 0), NS_ERR_READ_TIMEOUT);
    snprintf(want, sizeof want, "TLS handshake with localhost:%s: timed out after %lld us",
             port_of(silent), (long long)timeout);
    CHECK_STR(ns_last_error(), want);
    ns_socket_free(c);
    ns_socket_free(silent);
    ns_options_free(po);
    tls_fixture_free(&f);
}

/* A TLS send that returned NS_ERR_WOULD_BLOCK is retried with the same
 * bytes (documented); other or fewer bytes are refused, and the stream
 * the peer receives is exactly what was sent. */
static void test_tls_send_retry_must_pass_the_same_bytes(void)
{
    tls_fixture f;
    CHECK(tls_fixture_init(&f));
    ns_options_set_non_blocking(f.server, 0);
    ns_options_set_read_timeout(f.server, SLACK(10000000));
    stalled st;
    CHECK(stall(&st, f.server, f.client, 1, accept_one));
    char *stream = big_buffer();
    size_t sent = 0;
    ssize_t n = 0;
    for (int i = 0; i < 10000 && (n = ns_socket_send(st.client, stream + sent, 65536, 0)) > 0; i++)
        sent += (size_t)n;
    CHECK_EQ(n, NS_ERR_WOULD_BLOCK);
    CHECK_EQ(ns_socket_wants(st.client), NS_WANT_WRITE);
    static char other[65536];
    memset(other, 'x', sizeof other);
    CHECK_EQ(ns_socket_send(st.client, other, sizeof other, 0), NS_ERR_INVALID);
    char want[256];
    snprintf(want, sizeof want,
             "TLS send to localhost:%s: retried after NS_ERR_WOULD_BLOCK with other bytes; the "
             "first 16384 bytes of the earlier call are already encrypted: pass them again",
             port_of(st.server));
    CHECK_STR(ns_last_error(), want);
    CHECK_EQ(ns_socket_send(st.client, stream + sent, 100, 0), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), want);
    /* The reader starts; each retry passes the same bytes from a copy. */
    pthread_t t = spawn(read_all_and_compare, &st);
    static char copy[65536];
    for (int i = 0; i < 100000 && sent + sizeof copy <= 4 * (1 << 20); i++) {
        memcpy(copy, stream + sent, sizeof copy);
        n = ns_socket_send(st.client, copy, sizeof copy, 0);
        if (n > 0)
            sent += (size_t)n;
        else if (n != NS_ERR_WOULD_BLOCK)
            break;
        else {
            struct pollfd p = {ns_socket_wants_fd(st.client), POLLOUT, 0};
            poll(&p, 1, 1000);
        }
    }
    CHECK(n > 0);
    ns_socket_set_non_blocking(st.client, 0);
    ns_socket_close(st.client); /* close_notify: the reader's end of stream */
    void *got;
    pthread_join(t, &got);
    CHECK_EQ((intptr_t)got, (intptr_t)sent);
    free(stream);
    unstall(&st);
    tls_fixture_free(&f);
}

static const ns_test tests[] = {
    TEST(test_write_timeout_option_defaults_copies_and_inherits),
    TEST(test_plain_blocking_send_all_times_out),
    TEST(test_plain_non_blocking_send_all_times_out),
    TEST(test_tls_blocking_send_all_times_out),
    TEST(test_tls_non_blocking_send_all_times_out),
    TEST(test_blocking_send_times_out_once_the_buffer_is_full),
    TEST(test_send_all_without_write_timeout_waits_for_a_slow_reader),
    TEST(test_send_all_finishes_a_pending_tls_handshake),
    TEST(test_send_all_on_a_silent_tls_peer_times_out),
    TEST(test_tls_send_retry_must_pass_the_same_bytes),
};
NS_TEST_MAIN(tests)
