/* The selector's persistent watches (ns_selector_watch): read/write
 * interest and which one an event is for, selector-owned data and its
 * release, idle timeouts; and TLS readiness: a partial record is not
 * readable (no spinning: CPU time asserted), buffered records are. */
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
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

/* A connected plain pair (client, accepted conn), non-blocking. */
static int plain_pair(ns_socket **server, ns_socket **client, ns_socket **conn)
{
    *server = ns_make_server_socket("127.0.0.1", "0", NULL);
    *client = *server ? ns_make_client_socket("127.0.0.1", port_of(*server), NULL) : NULL;
    *conn = NULL;
    for (int i = 0; i < 100 && *client && !*conn; i++)
        if ((*conn = ns_socket_accept(*server)) == NULL)
            usleep(1000);
    return *conn != NULL;
}

static void free3(ns_socket *a, ns_socket *b, ns_socket *c)
{
    ns_socket_free(a);
    ns_socket_free(b);
    ns_socket_free(c);
}

static int released[8];
static void count_release(void *data) { released[(int *)data - released]++; }
#define SLOT(i) (&released[i])

static void test_watch_reports_read_and_write_readiness_apart(void)
{
    ns_socket *server, *client, *conn;
    CHECK(plain_pair(&server, &client, &conn));
    ns_selector *sel = ns_selector_new();
    CHECK_EQ(ns_selector_watch(sel, client, NS_WANT_READ | NS_WANT_WRITE, -1, client, NULL),
             NS_OK);
    CHECK_EQ(ns_selector_wait(sel, 1000000), 1);
    CHECK(ns_selector_event_socket(sel, 0) == client);
    CHECK(ns_selector_event_data(sel, 0) == client);
    CHECK_EQ(ns_selector_event_ready(sel, 0), NS_WANT_WRITE);
    CHECK_EQ(ns_selector_event_timed_out(sel, 0), 0);
    /* Persistent: still watched, and reported again while still ready. */
    CHECK_EQ(ns_selector_count(sel), 1);
    CHECK(ns_selector_data(sel, client) == client);
    CHECK_EQ(ns_socket_send(conn, "ab", 2, 0), 2);
    usleep(20000);
    CHECK_EQ(ns_selector_wait(sel, 1000000), 1);
    CHECK_EQ(ns_selector_event_ready(sel, 0), NS_WANT_READ | NS_WANT_WRITE);
    /* Read interest only: a watch changed in place. */
    CHECK_EQ(ns_selector_watch(sel, client, NS_WANT_READ, -1, client, NULL), NS_OK);
    CHECK_EQ(ns_selector_wait(sel, 1000000), 1);
    CHECK_EQ(ns_selector_event_ready(sel, 0), NS_WANT_READ);
    char buf[4];
    CHECK_EQ(ns_socket_recv(client, buf, sizeof buf, 0), 2);
    int64_t start = now_us();
    CHECK_EQ(ns_selector_wait(sel, 100000), 0); /* nothing left to read */
    CHECK(now_us() - start >= 99000);
    CHECK_EQ(ns_selector_count(sel), 1);
    CHECK_EQ(ns_selector_event_ready(sel, 0), 0); /* out of range now */
    ns_selector_free(sel);
    free3(server, client, conn);
}

static void test_watch_rejects_bad_input_and_releases_the_data(void)
{
    memset(released, 0, sizeof released);
    ns_socket *server, *client, *conn;
    CHECK(plain_pair(&server, &client, &conn));
    ns_selector *sel = ns_selector_new(), *other = ns_selector_new();
    CHECK_EQ(ns_selector_watch(NULL, client, NS_WANT_READ, -1, SLOT(0), count_release),
             NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "selector watch of: NULL selector");
    CHECK_EQ(released[0], 1);
    CHECK_EQ(ns_selector_watch(sel, NULL, NS_WANT_READ, -1, SLOT(1), count_release),
             NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "selector watch of: NULL socket");
    CHECK_EQ(released[1], 1);
    char want[160];
    snprintf(want, sizeof want,
             "selector watch of 127.0.0.1:%s: interest must be NS_WANT_READ, NS_WANT_WRITE or both",
             port_of(server));
    CHECK_EQ(ns_selector_watch(sel, client, 0, -1, SLOT(2), count_release), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), want);
    CHECK_EQ(ns_selector_watch(sel, client, 4, -1, SLOT(2), count_release), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), want);
    CHECK_EQ(released[2], 2);
    CHECK_EQ(ns_selector_count(sel), 0);
    CHECK_EQ(ns_selector_watch(other, client, NS_WANT_READ, -1, SLOT(3), count_release), NS_OK);
    CHECK_EQ(ns_selector_watch(sel, client, NS_WANT_READ, -1, SLOT(4), count_release),
             NS_ERR_INVALID);
    snprintf(want, sizeof want, "selector watch of 127.0.0.1:%s: already in another selector",
             port_of(server));
    CHECK_STR(ns_last_error(), want);
    CHECK_EQ(released[4], 1);
    CHECK_EQ(released[3], 0); /* the other selector's watch is untouched */
    CHECK(ns_selector_data(other, client) == SLOT(3));
    CHECK(ns_selector_data(sel, client) == NULL);
    ns_socket_close(conn);
    CHECK_EQ(ns_selector_watch(sel, conn, NS_WANT_READ, -1, SLOT(5), count_release),
             NS_ERR_CLOSED);
    CHECK_EQ(released[5], 1);
    ns_selector_free(other);
    CHECK_EQ(released[3], 1);
    ns_selector_free(sel);
    free3(server, client, conn);
    CHECK_EQ(released[3], 1);
}

/* A failed re-watch of a watched socket changes nothing: the socket stays
 * watched as it was, data the selector already owns (the same pointer) is
 * not released by the failure, other data given to the failing call is. */
static void test_failed_rewatch_keeps_the_watch_and_releases_once(void)
{
    memset(released, 0, sizeof released);
    ns_socket *server, *client, *conn;
    CHECK(plain_pair(&server, &client, &conn));
    ns_selector *sel = ns_selector_new();
    CHECK_EQ(ns_selector_watch(sel, client, NS_WANT_READ, -1, SLOT(0), count_release), NS_OK);
    CHECK_EQ(ns_selector_watch(sel, client, 0, -1, SLOT(0), count_release), NS_ERR_INVALID);
    CHECK_EQ(released[0], 0); /* still the selector's: released when client leaves */
    CHECK_EQ(ns_selector_watch(sel, client, 4, -1, SLOT(1), count_release), NS_ERR_INVALID);
    CHECK_EQ(released[1], 1); /* the failing call's own data */
    CHECK(ns_selector_data(sel, client) == SLOT(0));
    CHECK_EQ(ns_selector_count(sel), 1);
    /* still watched for reading, as before the failed calls */
    CHECK_EQ(ns_socket_send(conn, "x", 1, 0), 1);
    CHECK_EQ(ns_selector_wait(sel, 2000000), 1);
    CHECK(ns_selector_event_socket(sel, 0) == client);
    CHECK_EQ(ns_selector_event_ready(sel, 0), NS_WANT_READ);
    CHECK_EQ(ns_selector_remove(sel, client), NS_OK);
    CHECK_EQ(released[0], 1);
    ns_selector_free(sel);
    CHECK_EQ(released[0], 1);
    CHECK_EQ(released[1], 1);
    free3(server, client, conn);
}

/* Owned data is released exactly once, whichever way the socket leaves. */
static void test_watch_owned_data_is_released_once_on_every_exit(void)
{
    memset(released, 0, sizeof released);
    ns_socket *server, *client, *conn;
    CHECK(plain_pair(&server, &client, &conn));
    ns_socket *c2 = ns_make_client_socket("127.0.0.1", port_of(server), NULL);
    ns_socket *c3 = ns_make_client_socket("127.0.0.1", port_of(server), NULL);
    CHECK(c2 && c3);
    ns_selector *sel = ns_selector_new();
    CHECK_EQ(ns_selector_watch(sel, client, NS_WANT_READ, -1, SLOT(0), count_release), NS_OK);
    CHECK_EQ(ns_selector_watch(sel, client, NS_WANT_WRITE, -1, SLOT(0), count_release), NS_OK);
    CHECK_EQ(released[0], 0); /* same data: kept */
    CHECK_EQ(ns_selector_watch(sel, client, NS_WANT_READ, -1, SLOT(1), count_release), NS_OK);
    CHECK_EQ(released[0], 1); /* replaced */
    CHECK_EQ(ns_selector_remove(sel, client), NS_OK);
    CHECK_EQ(released[1], 1);
    CHECK_EQ(ns_selector_remove(sel, client), NS_ERR_INVALID);
    CHECK_EQ(ns_selector_watch(sel, client, NS_WANT_READ, -1, SLOT(2), count_release), NS_OK);
    ns_socket_close(client);
    CHECK_EQ(released[2], 1);
    CHECK_EQ(ns_selector_watch(sel, c2, NS_WANT_READ, -1, SLOT(3), count_release), NS_OK);
    ns_socket_free(c2);
    CHECK_EQ(released[3], 1);
    CHECK_EQ(ns_selector_watch(sel, c3, NS_WANT_READ, -1, SLOT(4), count_release), NS_OK);
    /* ns_selector_add of a watched socket: the owned data goes. */
    CHECK_EQ(ns_selector_add(sel, c3, -1, NULL), NS_OK);
    CHECK_EQ(released[4], 1);
    CHECK_EQ(ns_selector_watch(sel, c3, NS_WANT_READ, -1, SLOT(5), count_release), NS_OK);
    CHECK_EQ(ns_selector_count(sel), 1);
    ns_selector_free(sel);
    CHECK_EQ(released[5], 1);
    int total = 0;
    for (int i = 0; i < 8; i++)
        total += released[i];
    CHECK_EQ(total, 6);
    ns_socket_free(c3);
    free3(server, client, conn);
}

static void test_watch_idle_timeout_restarts_on_events_and_fires_once(void)
{
    ns_socket *server, *client, *conn;
    CHECK(plain_pair(&server, &client, &conn));
    ns_selector *sel = ns_selector_new();
    int64_t idle = SLACK(200000);
    int64_t start = now_us();
    CHECK_EQ(ns_selector_watch(sel, client, NS_WANT_READ, idle, NULL, NULL), NS_OK);
    usleep((useconds_t)(idle / 2));
    CHECK_EQ(ns_socket_send(conn, "x", 1, 0), 1);
    CHECK_EQ(ns_selector_wait(sel, 5000000), 1);
    CHECK_EQ(ns_selector_event_ready(sel, 0), NS_WANT_READ);
    int64_t event_at = now_us();
    char c;
    CHECK_EQ(ns_socket_recv(client, &c, 1, 0), 1);
    CHECK_EQ(ns_selector_wait(sel, 5000000), 1);
    int64_t fired = now_us();
    CHECK_EQ(ns_selector_event_timed_out(sel, 0), 1);
    CHECK_EQ(ns_selector_event_ready(sel, 0), 0);
    CHECK(fired - event_at >= idle - 2000);          /* restarted at the event */
    CHECK(fired - start >= idle + idle / 2 - 2000);
    CHECK(fired - event_at < idle + SLACK(200000));
    /* Once: then watched without a timeout. */
    CHECK_EQ(ns_selector_wait(sel, 100000), 0);
    CHECK_EQ(ns_selector_count(sel), 1);
    ns_selector_free(sel);
    free3(server, client, conn);
}

/* ---- TLS readiness ---- */

typedef struct {
    test_cert *ca, *leaf;
    ns_socket *server, *client, *conn;
} tls_conn;

static void *connect_tls(void *arg)
{
    tls_conn *t = arg;
    ns_options *co = blocking_options(NS_TLS_SOCKET_OPTIONS, SLACK(5000000));
    ns_options_add_trusted_certificate(co, certgen_cert_pem(t->ca), strlen(certgen_cert_pem(t->ca)));
    t->client = ns_make_client_tls_socket("localhost", port_of(t->server), co);
    ns_options_free(co);
    return NULL;
}

/* A handshaken TLS connection; the accepted end is non-blocking. */
static int tls_open(tls_conn *t)
{
    t->ca = certgen_ca("watch CA");
    t->leaf = certgen_leaf(t->ca, "localhost", "DNS:localhost", -1, 30);
    ns_options *so = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, SLACK(5000000));
    ns_options_add_certificate(so, certgen_cert_pem(t->leaf), strlen(certgen_cert_pem(t->leaf)));
    ns_options_set_private_key(so, certgen_key_pem(t->leaf), strlen(certgen_key_pem(t->leaf)));
    t->server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    ns_options_free(so);
    if (t->server == NULL)
        return 0;
    pthread_t th = spawn(connect_tls, t);
    t->conn = ns_socket_accept(t->server);
    pthread_join(th, NULL);
    return t->conn && t->client && ns_socket_set_non_blocking(t->conn, 1) == NS_OK;
}

static void tls_close(tls_conn *t)
{
    free3(t->server, t->client, t->conn);
    certgen_free(t->ca);
    certgen_free(t->leaf);
}

/* The 8 bytes a slow or hostile client sends: an application-data record
 * header announcing 32 bytes, and 3 of them. */
static const unsigned char half_record[8] = {0x17, 0x03, 0x03, 0x00, 0x20, 1, 2, 3};

/* Serves conn the way an event loop does (recv when readable, watch again)
 * for one idle timeout; counts readable and timed-out events. */
static void serve_one_timeout(ns_socket *conn, int persistent, int64_t idle, int *readable,
                              int *timed_out, int64_t *cpu_us, int64_t *wall_us)
{
    ns_selector *sel = ns_selector_new();
    int64_t cpu0 = thread_cpu_us(), t0 = now_us();
    *readable = *timed_out = 0;
    if (persistent)
        ns_selector_watch(sel, conn, NS_WANT_READ, idle, NULL, NULL);
    for (int round = 0; round < 1000 && *timed_out == 0; round++) {
        if (!persistent)
            ns_selector_add(sel, conn, idle, NULL);
        int n = ns_selector_wait(sel, SLACK(5000000));
        for (int i = 0; i < n; i++) {
            if (ns_selector_event_timed_out(sel, i)) {
                ++*timed_out;
                continue;
            }
            ++*readable;
            char buf[64];
            ns_socket_recv(conn, buf, sizeof buf, 0);
        }
    }
    *cpu_us = thread_cpu_us() - cpu0;
    *wall_us = now_us() - t0;
    ns_selector_free(sel);
}

static void check_half_record_is_not_readable(int persistent)
{
    tls_conn t;
    CHECK(tls_open(&t));
    CHECK_EQ(write(ns_socket_fd(t.client), half_record, sizeof half_record), 8);
    usleep(20000);
    int readable, timed_out;
    int64_t cpu, wall, idle = SLACK(300000);
    serve_one_timeout(t.conn, persistent, idle, &readable, &timed_out, &cpu, &wall);
    /* One event for the 8 bytes (the recv finds half a record: would block),
     * then silence until the idle timeout. */
    CHECK_EQ(readable, 1);
    CHECK_EQ(timed_out, 1);
    CHECK(wall >= idle - 2000);
    CHECK(cpu < wall / 5); /* spinning would use all of it */
    char buf[64];
    CHECK_EQ(ns_socket_recv(t.conn, buf, sizeof buf, 0), NS_ERR_WOULD_BLOCK);
    CHECK_EQ(ns_socket_wants(t.conn), NS_WANT_READ);
    tls_close(&t);
}

static void test_half_a_tls_record_is_not_readable_with_add(void)
{
    check_half_record_is_not_readable(0);
}

static void test_half_a_tls_record_is_not_readable_with_watch(void)
{
    check_half_record_is_not_readable(1);
}

/* Two records arrive at once; recv takes the first only: the second is
 * buffered, the fd has nothing, and the watch still reports it readable. */
static void test_watch_reports_a_buffered_tls_record_until_read(void)
{
    tls_conn t;
    CHECK(tls_open(&t));
    CHECK_EQ(ns_socket_send_all(t.client, "first\n", 6, 0), 6);
    CHECK_EQ(ns_socket_send_all(t.client, "second\n", 7, 0), 7);
    usleep(20000);
    ns_selector *sel = ns_selector_new();
    CHECK_EQ(ns_selector_watch(sel, t.conn, NS_WANT_READ, -1, NULL, NULL), NS_OK);
    char buf[16];
    const char *want[2] = {"first\n", "second\n"};
    for (int k = 0; k < 2; k++) {
        CHECK_EQ(ns_selector_wait(sel, 1000000), 1);
        CHECK_EQ(ns_selector_event_ready(sel, 0), NS_WANT_READ);
        CHECK_EQ(ns_socket_recv(t.conn, buf, 6, 0), 6);
        if (k == 1)
            CHECK_EQ(ns_socket_recv(t.conn, buf + 6, 1, 0), 1);
        CHECK(memcmp(buf, want[k], strlen(want[k])) == 0);
        struct pollfd p = {.fd = ns_socket_fd(t.conn), .events = POLLIN};
        CHECK_EQ(poll(&p, 1, 0), 0); /* the descriptor is empty all along */
    }
    int64_t start = now_us();
    CHECK_EQ(ns_selector_wait(sel, 100000), 0); /* drained: quiet */
    CHECK(now_us() - start >= 99000);
    ns_selector_free(sel);
    tls_close(&t);
}

/* Waits (bounded) until the peer has acknowledged everything fd sent, so
 * it all sits in the peer's receive queue. */
static int delivered(int fd)
{
    for (int i = 0; i < 1000; i++) {
        int unacked = -1;
        if (ioctl(fd, SIOCOUTQ, &unacked) != 0)
            return 0;
        if (unacked == 0)
            return 1;
        usleep(1000);
    }
    return 0;
}

/* A whole record and half of the next arrive at once: the recv that takes
 * the first reads the half into the read-ahead buffer too.  That half
 * alone is not readable: the watch stays quiet (it reported it readable,
 * and an event loop woke up for a recv that could only block). */
static void test_watch_is_quiet_on_half_a_record_left_after_a_whole_one(void)
{
    tls_conn t;
    CHECK(tls_open(&t));
    CHECK_EQ(ns_socket_send_all(t.client, "first\n", 6, 0), 6);
    CHECK_EQ(write(ns_socket_fd(t.client), half_record, sizeof half_record), 8);
    CHECK(delivered(ns_socket_fd(t.client)));
    ns_selector *sel = ns_selector_new();
    CHECK_EQ(ns_selector_watch(sel, t.conn, NS_WANT_READ, -1, NULL, NULL), NS_OK);
    CHECK_EQ(ns_selector_wait(sel, 1000000), 1);
    char buf[16];
    CHECK_EQ(ns_socket_recv(t.conn, buf, sizeof buf, 0), 6);
    CHECK(memcmp(buf, "first\n", 6) == 0);
    struct pollfd p = {.fd = ns_socket_fd(t.conn), .events = POLLIN};
    CHECK_EQ(poll(&p, 1, 0), 0); /* the half record left the descriptor too */
    int64_t start = now_us();
    CHECK_EQ(ns_selector_wait(sel, 100000), 0);
    CHECK(now_us() - start >= 99000);
    CHECK_EQ(ns_socket_recv(t.conn, buf, sizeof buf, 0), NS_ERR_WOULD_BLOCK);
    CHECK_EQ(ns_selector_wait(sel, 100000), 0); /* and after the recv that blocked */
    ns_selector_free(sel);
    tls_close(&t);
}

static const ns_test tests[] = {
    TEST(test_watch_reports_read_and_write_readiness_apart),
    TEST(test_watch_rejects_bad_input_and_releases_the_data),
    TEST(test_watch_owned_data_is_released_once_on_every_exit),
    TEST(test_failed_rewatch_keeps_the_watch_and_releases_once),
    TEST(test_watch_idle_timeout_restarts_on_events_and_fires_once),
    TEST(test_half_a_tls_record_is_not_readable_with_add),
    TEST(test_half_a_tls_record_is_not_readable_with_watch),
    TEST(test_watch_reports_a_buffered_tls_record_until_read),
    TEST(test_watch_is_quiet_on_half_a_record_left_after_a_whole_one),
};
NS_TEST_MAIN(tests)
