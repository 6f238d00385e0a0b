/* Drives 2,000 concurrent loopback connections (1,000 plain, 1,000 TLS)
 * through examples/selector_echo_server and checks every byte came back.
 *   load_selector_echo PATH/TO/selector_echo_server */
#include <sys/resource.h>

#include "certgen.h"
#include "example_server.h"
#include "testlib.h"

#define PER_KIND 1000
#define TOTAL (2 * PER_KIND)
#define PAYLOAD 4096

static const char *server_path;
static example_server srv; /* cleaned up by main if a test ends early */

typedef struct {
    ns_socket *s;
    size_t got;
} conn;

static conn conns[TOTAL];

static unsigned char expected_byte(int id, size_t i) { return (unsigned char)(id * 31 + i * 7); }

static ns_socket *open_client(int id, const char *plain, const char *tls, ns_options *po,
                              ns_options *to)
{
    return id < PER_KIND ? ns_make_client_socket("127.0.0.1", plain, po)
                         : ns_make_client_tls_socket("localhost", tls, to);
}

static void test_two_thousand_concurrent_plain_and_tls_clients(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl); /* the server inherits it */
    CHECK(rl.rlim_cur >= TOTAL + 100);

    test_cert *ca = certgen_ca("load CA");
    test_cert *leaf = certgen_leaf(ca, "localhost", "DNS:localhost", -1, 30);
    setenv("ECHO_MAX_CONNECTIONS", "2000", 1);
    CHECK_EQ(example_server_start(&srv, server_path, leaf), 0);
    char plain[16], tls[16];
    snprintf(plain, sizeof plain, "%d", srv.plain_port);
    snprintf(tls, sizeof tls, "%d", srv.tls_port);

    ns_options *po = blocking_options(NS_SOCKET_OPTIONS, 20000000);
    ns_options *to = blocking_options(NS_TLS_SOCKET_OPTIONS, 20000000);
    ns_options_add_trusted_certificate(to, certgen_cert_pem(ca), strlen(certgen_cert_pem(ca)));
    unsigned char payload[PAYLOAD];
    for (int id = 0; id < TOTAL; id++) {
        conns[id].s = open_client(id, plain, tls, po, to);
        CHECK(conns[id].s != NULL);
        for (size_t i = 0; i < PAYLOAD; i++)
            payload[i] = expected_byte(id, i);
        CHECK_EQ(ns_socket_send_all(conns[id].s, payload, PAYLOAD, 0), PAYLOAD);
        ns_socket_set_non_blocking(conns[id].s, 1);
    }
    /* All 2,000 are open at once; now collect every echo on one selector. */
    ns_selector *sel = ns_selector_new();
    for (int id = 0; id < TOTAL; id++)
        CHECK_EQ(ns_selector_add(sel, conns[id].s, 30000000, &conns[id]), NS_OK);
    int complete = 0, corrupt = 0;
    int64_t give_up = now_us() + 60000000;
    while (complete + corrupt < TOTAL && now_us() < give_up) {
        int n = ns_selector_wait(sel, 1000000);
        for (int i = 0; i < n; i++) {
            conn *c = ns_selector_event_data(sel, i);
            int id = (int)(c - conns);
            unsigned char buf[PAYLOAD];
            ssize_t got = ns_selector_event_timed_out(sel, i)
                              ? -1
                              : ns_socket_recv(c->s, buf, PAYLOAD - c->got, 0);
            for (ssize_t k = 0; k < got; k++)
                corrupt += buf[k] != expected_byte(id, c->got + (size_t)k);
            if (got > 0)
                c->got += (size_t)got;
            if (c->got == PAYLOAD) {
                complete++;
                ns_socket_free(c->s);
                c->s = NULL;
            } else if (got > 0 || got == NS_ERR_WOULD_BLOCK) {
                ns_selector_add(sel, c->s, 30000000, c);
            } else {
                corrupt++;
            }
        }
    }
    CHECK_EQ(corrupt, 0);
    CHECK_EQ(complete, TOTAL);
    CHECK_EQ(example_server_reap(&srv, 10000000, NULL), 0);
    CHECK(example_server_said(&srv, "served 2000 connections"));
    ns_selector_free(sel);
    for (int id = 0; id < TOTAL; id++)
        ns_socket_free(conns[id].s);
    ns_options_free(po);
    ns_options_free(to);
    example_server_cleanup(&srv);
    certgen_free(ca);
    certgen_free(leaf);
}

static const ns_test tests[] = {
    TEST(test_two_thousand_concurrent_plain_and_tls_clients),
};

EXAMPLE_SERVER_TEST_MAIN(tests, server_path, srv)
