/* Accept: a non-blocking TLS server never blocks in accept (the handshake
 * comes back pending and runs under the caller's loop, within a budget);
 * a blocking accept waits at most the read timeout (issue 13). */
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "certgen.h"
#include "testlib.h"

static int64_t thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Accepts on a non-blocking server, waiting for a connection with poll. */
static ns_socket *accept_soon(ns_socket *server)
{
    ns_socket *conn = NULL;
    for (int i = 0; i < 100 && conn == NULL; i++) {
        conn = ns_socket_accept(server);
        if (conn == NULL && ns_last_status() == NS_ERR_WOULD_BLOCK) {
            struct pollfd p = {ns_socket_fd(server), POLLIN, 0};
            poll(&p, 1, 100);
        } else if (conn == NULL) {
            return NULL;
        }
    }
    return conn;
}

/* The case: default server options (non-blocking, no read
 * timeout) and a client that connects and never speaks.  Before, accept
 * blocked in the handshake indefinitely (the alarm turns that into a
 * failure instead of a hang). */
static void test_nonblocking_tls_accept_returns_at_once_for_a_silent_client(void)
{
    tls_fixture f;
    CHECK(tls_fixture_init(&f));
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", f.server);
    CHECK(server != NULL);
    ns_socket *silent = ns_make_client_socket("127.0.0.1", port_of(server), NULL);
    CHECK(silent != NULL);
    usleep(20000);
    alarm(10);
    int64_t start = now_us();
    ns_socket *conn = accept_soon(server);
    int64_t took = now_us() - start;
    alarm(0);
    CHECK(conn != NULL);
    CHECK(took < SLACK(100000));
    CHECK_EQ(ns_socket_is_tls(conn), 1);
    CHECK(ns_socket_tls_version(conn) == NULL); /* not handshaken yet */
    CHECK_EQ(ns_socket_wants(conn), NS_WANT_READ);
    CHECK_EQ(ns_socket_wants_fd(conn), ns_socket_fd(conn));
    /* The budget with no read timeout: 60 s, like nginx. */
    int64_t left = ns_socket_wants_timeout(conn);
    CHECK(left > 60000000 - SLACK(1000000) && left <= 60000000);
    CHECK_EQ(ns_socket_handshake(conn), NS_ERR_WOULD_BLOCK);
    CHECK_EQ(ns_socket_wants(conn), NS_WANT_READ);
    char buf[4];
    CHECK_EQ(ns_socket_recv(conn, buf, sizeof buf, 0), NS_ERR_WOULD_BLOCK);
    ns_socket_free(conn);
    ns_socket_free(silent);
    ns_socket_free(server);
    tls_fixture_free(&f);
}

typedef struct {
    const char *port;
    tls_fixture *f;
    int echoed;
} tls_client_job;

static void *tls_client_says_hello(void *arg)
{
    tls_client_job *job = arg;
    ns_options *co = ns_options_copy(job->f->client, NS_TLS_SOCKET_OPTIONS);
    ns_options_set_non_blocking(co, 0);
    ns_options_set_read_timeout(co, SLACK(5000000));
    ns_socket *c = ns_make_client_tls_socket("localhost", job->port, co);
    char buf[8] = {0};
    job->echoed = c && ns_socket_send_all(c, "hello", 5, 0) == 5 &&
                  ns_socket_recv(c, buf, 5, MSG_WAITALL) == 5 && memcmp(buf, "hello", 5) == 0;
    ns_socket_free(c);
    ns_options_free(co);
    return NULL;
}

/* The pending handshake finishes under the caller's poll loop, driven only
 * by ns_socket_wants, and the connection then carries data. */
static void test_pending_accept_handshake_finishes_under_the_callers_loop(void)
{
    tls_fixture f;
    CHECK(tls_fixture_init(&f));
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", f.server);
    CHECK(server != NULL);
    char port[16];
    snprintf(port, sizeof port, "%s", port_of(server));
    tls_client_job job = {port, &f, 0};
    pthread_t t = spawn(tls_client_says_hello, &job);
    ns_socket *conn = accept_soon(server);
    CHECK(conn != NULL);
    int rc = NS_ERR_WOULD_BLOCK, rounds = 0;
    while (rc == NS_ERR_WOULD_BLOCK && rounds++ < 100) {
        struct pollfd p = {ns_socket_wants_fd(conn),
                           ns_socket_wants(conn) == NS_WANT_WRITE ? POLLOUT : POLLIN, 0};
        CHECK(poll(&p, 1, 5000) == 1);
        rc = ns_socket_handshake(conn);
    }
    CHECK_EQ(rc, NS_OK);
    CHECK_STR(ns_socket_tls_version(conn), "TLSv1.3");
    char buf[8];
    ssize_t n = NS_ERR_WOULD_BLOCK;
    for (int i = 0; i < 100 && n == NS_ERR_WOULD_BLOCK; i++) {
        struct pollfd p = {ns_socket_fd(conn), POLLIN, 0};
        poll(&p, 1, 100);
        n = ns_socket_recv(conn, buf, sizeof buf, 0);
    }
    CHECK_EQ(n, 5);
    CHECK_EQ(ns_socket_send_all(conn, buf, 5, 0), 5);
    pthread_join(t, NULL);
    CHECK_EQ(job.echoed, 1);
    ns_socket_free(conn);
    ns_socket_free(server);
    tls_fixture_free(&f);
}

/* A client that sends half a ClientHello record to a non-blocking server:
 * the socket is readable once, then quiet (no spinning) until its budget
 * ends the handshake with NS_ERR_READ_TIMEOUT. */
static void test_half_a_client_hello_is_quiet_until_the_budget_ends(void)
{
    tls_fixture f;
    CHECK(tls_fixture_init(&f));
    int64_t budget = SLACK(300000);
    ns_options_set_read_timeout(f.server, budget);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", f.server);
    CHECK(server != NULL);
    ns_socket *raw = ns_make_client_socket("127.0.0.1", port_of(server), NULL);
    CHECK(raw != NULL);
    static const unsigned char half_hello[8] = {0x16, 0x03, 0x01, 0x00, 0x80, 0x01, 0x00, 0x00};
    CHECK_EQ(write(ns_socket_fd(raw), half_hello, sizeof half_hello), 8);
    ns_socket *conn = accept_soon(server);
    CHECK(conn != NULL);
    ns_selector *sel = ns_selector_new();
    CHECK_EQ(ns_selector_watch(sel, conn, NS_WANT_READ, ns_socket_wants_timeout(conn), NULL, NULL),
             NS_OK);
    int readable = 0, timed_out = 0, rc = NS_ERR_WOULD_BLOCK;
    int64_t cpu0 = thread_cpu_us(), t0 = now_us();
    for (int round = 0; round < 1000 && rc == NS_ERR_WOULD_BLOCK && !timed_out; round++) {
        int n = ns_selector_wait(sel, SLACK(5000000));
        for (int i = 0; i < n; i++) {
            if (ns_selector_event_timed_out(sel, i)) {
                timed_out++;
                continue;
            }
            readable++;
            rc = ns_socket_handshake(conn);
        }
    }
    int64_t cpu = thread_cpu_us() - cpu0, wall = now_us() - t0;
    CHECK_EQ(readable, 1);
    CHECK_EQ(timed_out, 1);
    CHECK(cpu < wall / 5);
    /* The budget is spent: the handshake now fails, saying why. */
    CHECK_EQ(ns_socket_handshake(conn), NS_ERR_READ_TIMEOUT);
    char local[64], want[160];
    CHECK_EQ(ns_socket_local_address(raw, local, sizeof local), NS_OK);
    snprintf(want, sizeof want, "TLS handshake with %s:%d: timed out after %lld us", local,
             ns_socket_local_port(raw), (long long)budget);
    CHECK_STR(ns_last_error(), want);
    ns_selector_free(sel);
    ns_socket_free(conn);
    ns_socket_free(raw);
    ns_socket_free(server);
    tls_fixture_free(&f);
}

/* Issue 13: a blocking accept with nobody connecting waits at most the read
 * timeout, plain and TLS (before, it waited forever: the alarm). */
static void check_blocking_accept_times_out(int tls)
{
    tls_fixture f;
    CHECK(tls_fixture_init(&f));
    ns_options *o = tls ? f.server : ns_options_new(NS_SOCKET_OPTIONS);
    int64_t timeout = SLACK(200000);
    ns_options_set_non_blocking(o, 0);
    ns_options_set_read_timeout(o, timeout);
    ns_socket *server = tls ? ns_make_server_tls_socket("127.0.0.1", "0", o)
                            : ns_make_server_socket("127.0.0.1", "0", o);
    CHECK(server != NULL);
    alarm(10);
    int64_t start = now_us();
    ns_socket *conn = ns_socket_accept(server);
    int64_t took = now_us() - start;
    alarm(0);
    CHECK(conn == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_READ_TIMEOUT);
    char want[128];
    snprintf(want, sizeof want, "accept on 127.0.0.1:%s timed out after %lld us",
             port_of(server), (long long)timeout);
    CHECK_STR(ns_last_error(), want);
    CHECK(took >= timeout - 1000 && took < timeout + SLACK(300000));
    /* The server is still usable. */
    ns_socket *c = ns_make_client_socket("127.0.0.1", port_of(server), NULL);
    CHECK(c != NULL);
    if (!tls) {
        conn = ns_socket_accept(server);
        CHECK(conn != NULL);
        ns_socket_free(conn);
    }
    ns_socket_free(c);
    ns_socket_free(server);
    if (!tls)
        ns_options_free(o);
    tls_fixture_free(&f);
}

static void test_blocking_plain_accept_waits_at_most_the_read_timeout(void)
{
    check_blocking_accept_times_out(0);
}

static void test_blocking_tls_accept_waits_at_most_the_read_timeout(void)
{
    check_blocking_accept_times_out(1);
}

static const ns_test tests[] = {
    TEST(test_nonblocking_tls_accept_returns_at_once_for_a_silent_client),
    TEST(test_pending_accept_handshake_finishes_under_the_callers_loop),
    TEST(test_half_a_client_hello_is_quiet_until_the_budget_ends),
    TEST(test_blocking_plain_accept_waits_at_most_the_read_timeout),
    TEST(test_blocking_tls_accept_waits_at_most_the_read_timeout),
};
NS_TEST_MAIN(tests)
