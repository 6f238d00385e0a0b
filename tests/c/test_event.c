/* Event-driven I/O: after every NS_ERR_WOULD_BLOCK the socket says which
 * way to wait (ns_socket_wants), on which fd and until when, so a loop of
 * its own (here: poll) can drive recv, send, accept and the handshake. */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "certgen.h"
#include "testlib.h"

/* TLS options for both sides with the given read timeout; the handshake
 * is left to the caller. */
static int fixture_init(tls_fixture *f, int64_t read_timeout)
{
    return tls_fixture_init(f) && ns_options_set_read_timeout(f->server, read_timeout) == NS_OK &&
           ns_options_set_handshake(f->server, 0) == NS_OK &&
           ns_options_set_handshake(f->client, 0) == NS_OK &&
           ns_options_set_read_timeout(f->client, read_timeout) == NS_OK;
}

/* Polls s's wants_fd for its wants; 1 if ready within timeout_ms. */
static int wait_as_told(ns_socket *s, int timeout_ms)
{
    int want = ns_socket_wants(s);
    struct pollfd p = {.fd = ns_socket_wants_fd(s),
                       .events = (short)((want & NS_WANT_READ ? POLLIN : 0) |
                                         (want & NS_WANT_WRITE ? POLLOUT : 0))};
    return p.fd >= 0 && p.events != 0 && poll(&p, 1, timeout_ms) == 1;
}

/* A connected pair of plain sockets, both non-blocking. */
static int plain_pair(ns_socket **server, ns_socket **client, ns_socket **conn,
                      int64_t read_timeout)
{
    ns_options *o = ns_options_new(NS_SOCKET_OPTIONS);
    ns_options_set_read_timeout(o, read_timeout);
    *server = ns_make_server_socket("127.0.0.1", "0", o);
    *client = *server ? ns_make_client_socket("127.0.0.1", port_of(*server), o) : NULL;
    *conn = *client ? ns_socket_accept(*server) : NULL;
    ns_options_free(o);
    return *conn != NULL;
}

static void free_all(ns_socket *a, ns_socket *b, ns_socket *c)
{
    ns_socket_free(a);
    ns_socket_free(b);
    ns_socket_free(c);
}

static void test_null_and_fresh_sockets_want_nothing(void)
{
    CHECK_EQ(ns_socket_wants(NULL), 0);
    CHECK_EQ(ns_socket_wants_fd(NULL), -1);
    CHECK_EQ(ns_socket_wants_timeout(NULL), -1);
    ns_socket *server, *client, *conn;
    CHECK(plain_pair(&server, &client, &conn, -1));
    CHECK_EQ(ns_socket_wants(client), 0);
    CHECK_EQ(ns_socket_wants_fd(client), -1);
    CHECK_EQ(ns_socket_wants_timeout(client), -1);
    free_all(server, client, conn);
}

static void test_plain_recv_wants_read_with_the_read_timeout(void)
{
    ns_socket *server, *client, *conn;
    CHECK(plain_pair(&server, &client, &conn, 5000000));
    char buf[8];
    CHECK_EQ(ns_socket_recv(client, buf, sizeof buf, 0), NS_ERR_WOULD_BLOCK);
    char want_msg[128];
    snprintf(want_msg, sizeof want_msg, "recv from 127.0.0.1:%s: no data yet (non-blocking)",
             port_of(server));
    CHECK_STR(ns_last_error(), want_msg);
    CHECK_EQ(ns_socket_wants(client), NS_WANT_READ);
    CHECK_EQ(ns_socket_wants_fd(client), ns_socket_fd(client));
    int64_t left = ns_socket_wants_timeout(client);
    CHECK(left > 5000000 - SLACK(500000) && left <= 5000000);
    CHECK(!wait_as_told(client, 0)); /* nothing yet */
    CHECK_EQ(ns_socket_send(conn, "hi", 2, 0), 2);
    CHECK(wait_as_told(client, 5000));
    CHECK_EQ(ns_socket_recv(client, buf, sizeof buf, 0), 2);
    CHECK(memcmp(buf, "hi", 2) == 0);
    /* A call that did not block forgets the last wait. */
    CHECK_EQ(ns_socket_wants(client), 0);
    CHECK_EQ(ns_socket_wants_fd(client), -1);
    CHECK_EQ(ns_socket_wants_timeout(client), -1);
    free_all(server, client, conn);
}

static void test_plain_recv_without_read_timeout_has_no_deadline(void)
{
    ns_socket *server, *client, *conn;
    CHECK(plain_pair(&server, &client, &conn, -1));
    char buf[8];
    CHECK_EQ(ns_socket_recv(client, buf, sizeof buf, 0), NS_ERR_WOULD_BLOCK);
    CHECK_EQ(ns_socket_wants(client), NS_WANT_READ);
    CHECK_EQ(ns_socket_wants_timeout(client), -1);
    /* Closed: nothing to wait for any more. */
    ns_socket_close(client);
    CHECK_EQ(ns_socket_wants(client), 0);
    CHECK_EQ(ns_socket_wants_fd(client), -1);
    free_all(server, client, conn);
}

/* Fills s's send path until it would block; returns the bytes sent. */
static size_t fill(ns_socket *s)
{
    static char block[65536];
    size_t total = 0;
    for (int i = 0; i < 10000; i++) {
        ssize_t n = ns_socket_send(s, block, sizeof block, 0);
        if (n < 0)
            break;
        total += (size_t)n;
    }
    return total;
}

/* Reads everything s's peer can read now, up to `most` bytes. */
static size_t drain(ns_socket *s, size_t most)
{
    static char block[65536];
    size_t total = 0;
    for (int i = 0; i < 100000 && total < most; i++) {
        ssize_t n = ns_socket_recv(s, block, sizeof block, 0);
        if (n == NS_ERR_WOULD_BLOCK && wait_as_told(s, 1000))
            continue;
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    return total;
}

static void test_plain_send_on_a_full_buffer_wants_write(void)
{
    ns_socket *server, *client, *conn;
    CHECK(plain_pair(&server, &client, &conn, -1));
    size_t sent = fill(client);
    CHECK(sent > 0);
    CHECK_EQ(ns_last_status(), NS_ERR_WOULD_BLOCK);
    char want_msg[128];
    snprintf(want_msg, sizeof want_msg,
             "send to 127.0.0.1:%s: the socket buffer is full (non-blocking)", port_of(server));
    CHECK_STR(ns_last_error(), want_msg);
    CHECK_EQ(ns_socket_wants(client), NS_WANT_WRITE);
    CHECK_EQ(ns_socket_wants_fd(client), ns_socket_fd(client));
    CHECK(!wait_as_told(client, 0));
    CHECK_EQ(drain(conn, sent), sent);
    CHECK(wait_as_told(client, 5000));
    CHECK(ns_socket_send(client, "x", 1, 0) == 1);
    CHECK_EQ(ns_socket_wants(client), 0);
    free_all(server, client, conn);
}

static void test_accept_without_a_connection_wants_read(void)
{
    ns_options *o = ns_options_new(NS_SOCKET_OPTIONS);
    ns_options_set_read_timeout(o, 3000000);
    ns_socket *server = ns_make_server_socket("127.0.0.1", "0", o);
    CHECK(server != NULL);
    CHECK(ns_socket_accept(server) == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_WOULD_BLOCK);
    CHECK_EQ(ns_socket_wants(server), NS_WANT_READ);
    CHECK_EQ(ns_socket_wants_fd(server), ns_socket_fd(server));
    int64_t left = ns_socket_wants_timeout(server);
    CHECK(left > 3000000 - SLACK(500000) && left <= 3000000);
    ns_socket *client = ns_make_client_socket("127.0.0.1", port_of(server), o);
    CHECK(client != NULL);
    CHECK(wait_as_told(server, 5000));
    ns_socket *conn = ns_socket_accept(server);
    CHECK(conn != NULL);
    CHECK_EQ(ns_socket_wants(server), 0);
    free_all(server, client, conn);
    ns_options_free(o);
}

/* Both ends of a TLS connection in this one thread, each driven only by
 * what ns_socket_wants says: the handshake, then data both ways. */
static void test_tls_handshake_and_io_driven_by_wants_in_one_thread(void)
{
    tls_fixture f;
    CHECK(fixture_init(&f, -1));
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", f.server);
    CHECK(server != NULL);
    ns_socket *client = ns_make_client_tls_socket("localhost", port_of(server), f.client);
    CHECK(client != NULL);
    ns_socket *conn = NULL;
    for (int i = 0; i < 100 && conn == NULL; i++) {
        conn = ns_socket_accept(server);
        if (conn == NULL)
            CHECK(ns_last_status() == NS_ERR_WOULD_BLOCK && wait_as_told(server, 100));
    }
    CHECK(conn != NULL);
    int client_done = 0, conn_done = 0, rounds = 0, saw_read = 0;
    for (; rounds < 100 && !(client_done && conn_done); rounds++) {
        struct pollfd p[2];
        int n = 0;
        ns_socket *side[2] = {client, conn};
        int *done[2] = {&client_done, &conn_done};
        for (int k = 0; k < 2; k++) {
            if (*done[k])
                continue;
            int rc = ns_socket_handshake(side[k]);
            if (rc == NS_OK) {
                *done[k] = 1;
                CHECK_EQ(ns_socket_wants(side[k]), 0);
                continue;
            }
            CHECK_EQ(rc, NS_ERR_WOULD_BLOCK);
            int want = ns_socket_wants(side[k]);
            CHECK(want == NS_WANT_READ || want == NS_WANT_WRITE);
            saw_read |= want == NS_WANT_READ;
            CHECK_EQ(ns_socket_wants_fd(side[k]), ns_socket_fd(side[k]));
            p[n++] = (struct pollfd){ns_socket_wants_fd(side[k]),
                                     want == NS_WANT_READ ? POLLIN : POLLOUT, 0};
        }
        if (n > 0)
            CHECK(poll(p, (nfds_t)n, 5000) > 0);
    }
    CHECK(client_done && conn_done);
    CHECK(saw_read);
    CHECK_STR(ns_socket_tls_version(client), "TLSv1.3");
    /* recv with nothing there wants read; data then flows. */
    char buf[16];
    CHECK_EQ(ns_socket_recv(conn, buf, sizeof buf, 0), NS_ERR_WOULD_BLOCK);
    CHECK_EQ(ns_socket_wants(conn), NS_WANT_READ);
    CHECK_EQ(ns_socket_send(client, "ping", 4, 0), 4);
    CHECK(wait_as_told(conn, 5000));
    CHECK_EQ(ns_socket_recv(conn, buf, sizeof buf, 0), 4);
    CHECK(memcmp(buf, "ping", 4) == 0);
    /* send on a full buffer wants write, and resumes once the peer reads. */
    size_t sent = fill(conn);
    CHECK(sent > 0);
    CHECK_EQ(ns_last_status(), NS_ERR_WOULD_BLOCK);
    CHECK_EQ(ns_socket_wants(conn), NS_WANT_WRITE);
    CHECK_EQ(drain(client, sent), sent);
    CHECK(wait_as_told(conn, 5000));
    free_all(server, client, conn);
    tls_fixture_free(&f);
}

/* A silent client: the non-blocking handshake's deadline (the read
 * timeout, fixed when the handshake starts) is reported and enforced. */
static void test_nonblocking_handshake_has_a_fixed_deadline(void)
{
    tls_fixture f;
    int64_t budget = SLACK(300000);
    CHECK(fixture_init(&f, budget));
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", f.server);
    CHECK(server != NULL);
    ns_options *po = ns_options_new(NS_SOCKET_OPTIONS);
    ns_socket *silent = ns_make_client_socket("127.0.0.1", port_of(server), po);
    ns_options_free(po);
    CHECK(silent != NULL);
    ns_socket *conn = NULL;
    for (int i = 0; i < 100 && conn == NULL; i++)
        if ((conn = ns_socket_accept(server)) == NULL)
            CHECK(wait_as_told(server, 100));
    CHECK(conn != NULL);
    int64_t start = now_us();
    CHECK_EQ(ns_socket_handshake(conn), NS_ERR_WOULD_BLOCK);
    CHECK_EQ(ns_socket_wants(conn), NS_WANT_READ);
    int64_t left = ns_socket_wants_timeout(conn);
    CHECK(left > 0 && left <= budget);
    int rc = NS_ERR_WOULD_BLOCK, calls = 0;
    while (rc == NS_ERR_WOULD_BLOCK && calls++ < 50) {
        /* A loop waits as told; a retry never extends the deadline. */
        int64_t t = ns_socket_wants_timeout(conn);
        CHECK(t >= 0 && t <= left);
        left = t;
        wait_as_told(conn, (int)(t / 1000) + 1);
        rc = ns_socket_handshake(conn);
    }
    int64_t took = now_us() - start;
    CHECK_EQ(rc, NS_ERR_READ_TIMEOUT);
    char local[64], want_msg[160];
    CHECK_EQ(ns_socket_local_address(silent, local, sizeof local), NS_OK);
    snprintf(want_msg, sizeof want_msg, "TLS handshake with %s:%d: timed out after %lld us",
             local, ns_socket_local_port(silent), (long long)budget);
    CHECK_STR(ns_last_error(), want_msg);
    CHECK(took >= budget - 1000 && took < budget + SLACK(500000));
    CHECK_EQ(ns_socket_wants(conn), 0);
    free_all(server, silent, conn);
    tls_fixture_free(&f);
}

static const ns_test tests[] = {
    TEST(test_null_and_fresh_sockets_want_nothing),
    TEST(test_plain_recv_wants_read_with_the_read_timeout),
    TEST(test_plain_recv_without_read_timeout_has_no_deadline),
    TEST(test_plain_send_on_a_full_buffer_wants_write),
    TEST(test_accept_without_a_connection_wants_read),
    TEST(test_tls_handshake_and_io_driven_by_wants_in_one_thread),
    TEST(test_nonblocking_handshake_has_a_fixed_deadline),
};
NS_TEST_MAIN(tests)
