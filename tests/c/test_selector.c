/* The selector: Sagittarius' "server socket selector" and "client socket
 * selector" scenarios with 100 clients, TLS buffered bytes, interrupt,
 * and removal, closing and freeing while registered. */
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "certgen.h"
#include "testlib.h"

#define CLIENTS 100

typedef struct {
    const char *port;
    int delay_us;
    int echoed;
} client_job;

/* Connects, optionally waits before speaking, and counts an echo. */
static void *client(void *arg)
{
    client_job *job = arg;
    ns_options *o = blocking_options(NS_SOCKET_OPTIONS, SLACK(3000000));
    ns_socket *c = ns_make_client_socket("127.0.0.1", job->port, o);
    ns_options_free(o);
    if (!c)
        return NULL;
    if (job->delay_us)
        usleep(job->delay_us);
    char buf[16] = {0};
    if (ns_socket_send_all(c, "hello", 5, 0) == 5 && ns_socket_recv(c, buf, sizeof buf, MSG_WAITALL) == 5)
        job->echoed = memcmp(buf, "hello", 5) == 0;
    ns_socket_free(c);
    return NULL;
}

static client_job jobs[CLIENTS];

/* Serves until every connection was echoed or timed out; returns echoes
 * (each client's outcome is left in jobs[]). */
static int run_selector_server(int64_t per_socket_timeout, int slow_every, int slow_delay_us)
{
    ns_options *so = ns_options_new(NS_SOCKET_OPTIONS);
    ns_options_set_read_timeout(so, 1000000);
    ns_socket *server = ns_make_server_socket("127.0.0.1", "0", so);
    ns_options_free(so);
    if (!server)
        return -1;
    pthread_t threads[CLIENTS];
    char port[16];
    snprintf(port, sizeof port, "%s", port_of(server));
    for (int i = 0; i < CLIENTS; i++) {
        jobs[i] = (client_job){port, slow_every && i % slow_every == 0 ? slow_delay_us : 0, 0};
        threads[i] = spawn(client, &jobs[i]);
    }
    ns_selector *sel = ns_selector_new();
    ns_selector_add(sel, server, -1, NULL);
    int served = 0, done = 0;
    int64_t give_up = now_us() + SLACK(10000000);
    while (done < CLIENTS && now_us() < give_up) {
        int n = ns_selector_wait(sel, 100000);
        for (int i = 0; i < n; i++) {
            ns_socket *s = ns_selector_event_socket(sel, i);
            if (s == server) {
                ns_socket *conn;
                while ((conn = ns_socket_accept(server)) != NULL)
                    ns_selector_add(sel, conn, per_socket_timeout, conn);
                ns_selector_add(sel, server, -1, NULL);
                continue;
            }
            if (!ns_selector_event_timed_out(sel, i)) {
                char buf[16];
                ssize_t got = ns_socket_recv(s, buf, sizeof buf, 0);
                if (got == 5 && ns_socket_send_all(s, buf, 5, 0) == 5)
                    served++;
            }
            ns_socket_free(s);
            done++;
        }
    }
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(threads[i], NULL);
    int echoed = 0;
    for (int i = 0; i < CLIENTS; i++)
        echoed += jobs[i].echoed;
    ns_selector_free(sel);
    ns_socket_free(server);
    return echoed == served && done == CLIENTS ? echoed : -2;
}

static void test_server_selector_echoes_every_client_within_the_timeout(void)
{
    CHECK_EQ(run_selector_server(1000000, 0, 0), CLIENTS);
}

static void test_slow_clients_time_out_and_every_fast_one_is_echoed(void)
{
    /* Every second client waits 4x the per-socket timeout before speaking:
     * exactly those time out, every other one is echoed. */
    int64_t timeout = SLACK(400000);
    CHECK_EQ(run_selector_server(timeout, 2, (int)(4 * timeout)), CLIENTS / 2);
    for (int i = 0; i < CLIENTS; i++)
        CHECK_EQ(jobs[i].echoed, i % 2 != 0);
}

static void test_client_selector_reports_each_reply_or_timeout(void)
{
    ns_socket *server = ns_make_server_socket("127.0.0.1", "0", NULL);
    ns_selector *sel = ns_selector_new();
    ns_options *co = ns_options_new(NS_SOCKET_OPTIONS);
    ns_socket *clients[10];
    int id[10];
    for (int i = 0; i < 10; i++) {
        clients[i] = ns_make_client_socket("127.0.0.1", port_of(server), co);
        CHECK(clients[i] != NULL);
        id[i] = i;
        CHECK_EQ(ns_selector_add(sel, clients[i], i < 5 ? 5000000 : 50000, &id[i]), NS_OK);
    }
    CHECK_EQ(ns_selector_count(sel), 10);
    /* Answer the first five only. */
    for (int i = 0; i < 5; i++) {
        ns_socket *conn = NULL;
        for (int k = 0; k < 200 && !conn; k++) {
            conn = ns_socket_accept(server);
            if (!conn)
                usleep(2000);
        }
        CHECK(conn != NULL);
        ns_socket_send_all(conn, "x", 1, 0);
        ns_socket_free(conn); /* keeps the order: answered i-th accepted */
    }
    int readable = 0, timed_out = 0;
    int64_t start = now_us();
    while (readable + timed_out < 10 && now_us() - start < 5000000) {
        int n = ns_selector_wait(sel, 1000000);
        for (int i = 0; i < n; i++) {
            int *which = ns_selector_event_data(sel, i);
            CHECK(which != NULL && ns_selector_event_socket(sel, i) == clients[*which]);
            if (ns_selector_event_timed_out(sel, i))
                timed_out++;
            else
                readable++;
        }
    }
    CHECK_EQ(readable, 5);
    CHECK_EQ(timed_out, 5);
    CHECK_EQ(ns_selector_count(sel), 0);
    CHECK(ns_selector_event_socket(sel, 99) == NULL);
    for (int i = 0; i < 10; i++)
        ns_socket_free(clients[i]);
    ns_selector_free(sel);
    ns_socket_free(server);
    ns_options_free(co);
}

static void *interrupt_later(void *sel)
{
    usleep(50000);
    ns_selector_interrupt(sel);
    return NULL;
}

static void test_interrupt_wakes_a_wait_within_100ms(void)
{
    ns_selector *sel = ns_selector_new();
    ns_socket *server = ns_make_server_socket("127.0.0.1", "0", NULL);
    ns_selector_add(sel, server, -1, NULL);
    pthread_t t = spawn(interrupt_later, sel);
    int64_t start = now_us();
    CHECK_EQ(ns_selector_wait(sel, 5000000), 0);
    int64_t took = now_us() - start;
    pthread_join(t, NULL);
    CHECK(took >= 40000 && took < SLACK(150000));
    CHECK_EQ(ns_selector_count(sel), 1);
    /* An interrupt before the wait wakes the next one at once. */
    ns_selector_interrupt(sel);
    start = now_us();
    CHECK_EQ(ns_selector_wait(sel, 5000000), 0);
    CHECK(now_us() - start < SLACK(100000));
    ns_selector_free(sel);
    ns_socket_free(server);
}

static void test_wait_times_out_with_nothing_ready(void)
{
    ns_selector *sel = ns_selector_new();
    int64_t start = now_us();
    CHECK_EQ(ns_selector_wait(sel, 30000), 0);
    CHECK(now_us() - start >= 30000);
    ns_selector_free(sel);
}

static void test_remove_close_and_free_while_registered(void)
{
    ns_socket *server = ns_make_server_socket("127.0.0.1", "0", NULL);
    ns_socket *a = ns_make_client_socket("127.0.0.1", port_of(server), NULL);
    ns_socket *b = ns_make_client_socket("127.0.0.1", port_of(server), NULL);
    ns_socket *c = ns_make_client_socket("127.0.0.1", port_of(server), NULL);
    ns_selector *sel = ns_selector_new();
    ns_selector *other = ns_selector_new();
    CHECK_EQ(ns_selector_add(sel, a, 10000, NULL), NS_OK);
    CHECK_EQ(ns_selector_add(sel, b, 10000, NULL), NS_OK);
    CHECK_EQ(ns_selector_add(sel, c, 10000, NULL), NS_OK);
    CHECK_EQ(ns_selector_add(other, a, 10000, NULL), NS_ERR_INVALID);
    CHECK_EQ(ns_selector_remove(other, a), NS_ERR_INVALID);
    CHECK_EQ(ns_selector_remove(sel, a), NS_OK);
    CHECK_EQ(ns_selector_remove(sel, a), NS_ERR_INVALID);
    CHECK_EQ(ns_selector_count(sel), 2);
    ns_socket_close(b); /* closing removes it */
    CHECK_EQ(ns_selector_count(sel), 1);
    CHECK_EQ(ns_selector_add(sel, b, 10000, NULL), NS_ERR_CLOSED);
    /* Re-adding replaces the timeout: c now waits 1 s, not 10 ms. */
    CHECK_EQ(ns_selector_add(sel, c, 1000000, NULL), NS_OK);
    CHECK_EQ(ns_selector_count(sel), 1);
    CHECK_EQ(ns_selector_wait(sel, 50000), 0);
    ns_selector_free(sel); /* still holds c: c stays usable */
    CHECK_EQ(ns_selector_add(other, c, 10000, NULL), NS_OK);
    CHECK_EQ(ns_selector_wait(other, 1000000), 1);
    CHECK(ns_selector_event_timed_out(other, 0));
    ns_selector_free(other);
    CHECK_EQ(ns_selector_add(NULL, c, 1, NULL), NS_ERR_INVALID);
    CHECK_EQ(ns_selector_wait(NULL, 1), NS_ERR_INVALID);
    CHECK_EQ(ns_selector_interrupt(NULL), NS_ERR_INVALID);
    CHECK_EQ(ns_selector_count(NULL), 0);
    ns_selector_free(NULL);
    ns_socket_free(a);
    ns_socket_free(b);
    ns_socket_free(c);
    ns_socket_free(server);
}

static void *send_two_lines(void *server)
{
    ns_socket *conn = ns_socket_accept(server);
    ns_socket_send_all(conn, "first\nsecond\n", 13, 0);
    char buf[4];
    ns_socket_recv(conn, buf, sizeof buf, 0);
    ns_socket_free(conn);
    return NULL;
}

static void test_tls_socket_with_buffered_bytes_is_readable_at_once(void)
{
    test_cert *ca = certgen_ca("selector CA");
    test_cert *leaf = certgen_leaf(ca, "localhost", "DNS:localhost", -1, 30);
    ns_options *so = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, 5000000);
    ns_options_add_certificate(so, certgen_cert_pem(leaf), strlen(certgen_cert_pem(leaf)));
    ns_options_set_private_key(so, certgen_key_pem(leaf), strlen(certgen_key_pem(leaf)));
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    pthread_t t = spawn(send_two_lines, server);
    ns_options *co = blocking_options(NS_TLS_SOCKET_OPTIONS, 5000000);
    ns_options_add_trusted_certificate(co, certgen_cert_pem(ca), strlen(certgen_cert_pem(ca)));
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), co);
    CHECK(c != NULL);
    char buf[8];
    CHECK_EQ(ns_socket_recv(c, buf, 6, MSG_PEEK), 6);
    CHECK_EQ(ns_socket_recv(c, buf, 6, 0), 6); /* "first\n"; "second\n" is buffered */
    CHECK_EQ(ns_socket_pending(c), 7);
    struct pollfd p = {.fd = ns_socket_fd(c), .events = POLLIN};
    CHECK_EQ(poll(&p, 1, 0), 0); /* the descriptor has nothing more */
    ns_selector *sel = ns_selector_new();
    CHECK_EQ(ns_selector_add(sel, c, 5000000, NULL), NS_OK);
    int64_t start = now_us();
    CHECK_EQ(ns_selector_wait(sel, 5000000), 1);
    CHECK(now_us() - start < SLACK(100000));
    CHECK(!ns_selector_event_timed_out(sel, 0));
    CHECK_EQ(ns_socket_recv(c, buf, 7, 0), 7);
    CHECK(memcmp(buf, "second\n", 7) == 0);
    ns_socket_send_all(c, "k", 1, 0);
    pthread_join(t, NULL);
    ns_selector_free(sel);
    ns_socket_free(c);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
    certgen_free(ca);
    certgen_free(leaf);
}

static const ns_test tests[] = {
    TEST(test_server_selector_echoes_every_client_within_the_timeout),
    TEST(test_slow_clients_time_out_and_every_fast_one_is_echoed),
    TEST(test_client_selector_reports_each_reply_or_timeout),
    TEST(test_interrupt_wakes_a_wait_within_100ms),
    TEST(test_wait_times_out_with_nothing_ready),
    TEST(test_remove_close_and_free_while_registered),
    TEST(test_tls_socket_with_buffered_bytes_is_readable_at_once),
};
NS_TEST_MAIN(tests)
