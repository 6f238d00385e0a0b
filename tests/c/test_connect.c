/* Opening a client without blocking (ns_socket_connect_start/_continue):
 * bad input, TLS to a numeric address, a name resolved aside, refusal.
 * The bad networks are in test_connect_netns.c. */
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include "certgen.h"
#include "testlib.h"

static void test_bad_input_is_refused_at_start(void)
{
    CHECK(ns_socket_connect_start(NULL, "127.0.0.1", "1") == NULL);
    CHECK_STR(ns_last_error(), "connect start: NULL options");
    ns_options *o = ns_options_new(NS_SOCKET_OPTIONS);
    CHECK(ns_socket_connect_start(o, NULL, "1") == NULL);
    CHECK_STR(ns_last_error(), "connect: node and service are required");
    CHECK(ns_socket_connect_start(o, "127.0.0.1", NULL) == NULL);
    ns_options_set_ai_flags(o, AI_PASSIVE);
    CHECK(ns_socket_connect_start(o, "127.0.0.1", "1") == NULL);
    CHECK_STR(ns_last_error(),
              "connect to 127.0.0.1:1: AI_PASSIVE is for servers, not client sockets");
    CHECK_EQ(ns_socket_connect_continue(NULL), NS_ERR_INVALID);
    ns_options_free(o);
}

static void *accept_tls(void *server)
{
    ns_socket *conn = ns_socket_accept(server);
    if (conn)
        echo_line(conn);
    ns_socket_free(conn);
    return NULL;
}

/* TLS to a numeric address: start returns at once, continue finishes the
 * connection and the handshake, the socket is "opening" meanwhile. */
static void test_tls_open_driven_by_continue(void)
{
    tls_fixture f;
    CHECK(tls_fixture_init(&f));
    ns_options_set_non_blocking(f.server, 0);
    ns_options_set_read_timeout(f.server, SLACK(5000000));
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", f.server);
    CHECK(server != NULL);
    pthread_t t = spawn(accept_tls, server);
    ns_options_set_connection_timeout(f.client, SLACK(5000000));
    int64_t start = now_us();
    ns_socket *s = ns_socket_connect_start(f.client, "127.0.0.1", port_of(server));
    CHECK(s != NULL);
    CHECK(now_us() - start < SLACK(50000));
    CHECK_EQ(ns_socket_fd(s), -1);
    CHECK_EQ(ns_socket_is_closed(s), 0);
    char buf[16];
    CHECK_EQ(ns_socket_recv(s, buf, sizeof buf, 0), NS_ERR_INVALID);
    char want[160];
    snprintf(want, sizeof want,
             "recv from 127.0.0.1:%s: still opening (call ns_socket_connect_continue until NS_OK)",
             port_of(server));
    CHECK_STR(ns_last_error(), want);
    int rounds;
    CHECK_EQ(open_by_wants(s, &rounds), NS_OK);
    CHECK_STR(ns_socket_tls_version(s), "TLSv1.3");
    CHECK_EQ(ns_socket_connect_continue(s), NS_OK);
    CHECK(ns_socket_fd(s) >= 0);
    CHECK_EQ(ns_socket_is_non_blocking(s), 1);
    CHECK(send_text(s, "hi\n"));
    ns_socket_set_non_blocking(s, 0);
    ns_socket_set_read_timeout(s, SLACK(5000000));
    CHECK(recv_text(s, "hi\n"));
    pthread_join(t, NULL);
    ns_socket_free(s);
    ns_socket_free(server);
    tls_fixture_free(&f);
}

/* A name goes to the resolver thread: the first continue waits for it. */
static void test_a_name_resolves_without_blocking(void)
{
    ns_socket *server = ns_make_server_socket("127.0.0.1", "0", NULL);
    ns_options *o = ns_options_new(NS_SOCKET_OPTIONS);
    ns_socket *s = ns_socket_connect_start(o, "localhost", port_of(server));
    CHECK(s != NULL);
    /* Usually the thread has not answered yet (it may have, from
     * /etc/hosts: then the open is simply done sooner). */
    int rc = ns_socket_connect_continue(s);
    CHECK(rc == NS_ERR_WOULD_BLOCK || rc == NS_OK);
    if (rc == NS_ERR_WOULD_BLOCK) {
        char want[128];
        snprintf(want, sizeof want, "connect to localhost:%s: %s", port_of(server),
                 strstr(ns_last_error(), "resolving") ? "resolving the name (non-blocking)"
                                                      : "waiting for the connection (non-blocking)");
        CHECK_STR(ns_last_error(), want);
        CHECK(ns_socket_wants(s) == NS_WANT_READ || ns_socket_wants(s) == NS_WANT_WRITE);
        CHECK(ns_socket_wants_fd(s) >= 0);
    }
    int rounds;
    CHECK_EQ(open_by_wants(s, &rounds), NS_OK);
    char addr[64];
    CHECK_EQ(ns_socket_peer_address(s, addr, sizeof addr), NS_OK);
    CHECK_STR(addr, "127.0.0.1");
    /* Freed mid-resolution: the thread finishes alone (valgrind checks). */
    ns_socket *gone = ns_socket_connect_start(o, "localhost", port_of(server));
    CHECK(gone != NULL);
    ns_socket_free(gone);
    ns_socket_free(s);
    ns_socket_free(server);
    ns_options_free(o);
}

static void test_refused_names_the_address_and_closes(void)
{
    ns_socket *server = ns_make_server_socket("127.0.0.1", "0", NULL);
    char port[16];
    snprintf(port, sizeof port, "%s", port_of(server));
    ns_socket_free(server); /* nobody listens there now */
    ns_options *o = ns_options_new(NS_SOCKET_OPTIONS);
    ns_socket *s = ns_socket_connect_start(o, "127.0.0.1", port);
    CHECK(s != NULL);
    int rounds;
    CHECK_EQ(open_by_wants(s, &rounds), NS_ERR_CONNECT);
    char want[160];
    snprintf(want, sizeof want, "connect to 127.0.0.1:%s failed: 127.0.0.1 port %s: Connection refused",
             port, port);
    CHECK_STR(ns_last_error(), want);
    CHECK_EQ(ns_socket_is_closed(s), 1);
    CHECK_EQ(ns_socket_wants(s), 0);
    CHECK_EQ(ns_socket_connect_continue(s), NS_ERR_CLOSED);
    ns_socket_free(s);
    ns_options_free(o);
}

static const ns_test tests[] = {
    TEST(test_bad_input_is_refused_at_start),
    TEST(test_tls_open_driven_by_continue),
    TEST(test_a_name_resolves_without_blocking),
    TEST(test_refused_names_the_address_and_closes),
};
NS_TEST_MAIN(tests)
