/* STARTTLS: a connected plain socket upgraded to TLS, client side and
 * server side, after plain bytes; bad input leaves the socket plain. */
#include <sys/socket.h>

#include "certgen.h"
#include "testlib.h"

typedef struct {
    ns_socket *server;
    tls_fixture *f;
    int ok;
} starttls_job;

/* The server: reads "STARTTLS\n" in plain text, answers, upgrades. */
static void *starttls_server(void *arg)
{
    starttls_job *job = arg;
    ns_socket *conn = ns_socket_accept(job->server);
    job->ok = conn && recv_text(conn, "STARTTLS\n") && send_text(conn, "GO\n") &&
              ns_socket_start_tls(conn, job->f->server) == NS_OK && ns_socket_is_tls(conn) &&
              recv_text(conn, "secret\n") && send_text(conn, "secret too\n");
    ns_socket_free(conn);
    return NULL;
}

static void test_plain_connection_upgraded_on_both_sides(void)
{
    tls_fixture f;
    CHECK(tls_fixture_init(&f));
    ns_options *po = blocking_options(NS_SOCKET_OPTIONS, SLACK(5000000));
    ns_socket *server = ns_make_server_socket("127.0.0.1", "0", po);
    CHECK(server != NULL);
    starttls_job job = {server, &f, 0};
    pthread_t t = spawn(starttls_server, &job);
    ns_socket *c = ns_make_client_socket("localhost", port_of(server), po);
    CHECK(c != NULL);
    CHECK(send_text(c, "STARTTLS\n"));
    CHECK(recv_text(c, "GO\n"));
    CHECK_EQ(ns_socket_start_tls(c, f.client), NS_OK);
    CHECK_EQ(ns_socket_is_tls(c), 1);
    CHECK_STR(ns_socket_tls_version(c), "TLSv1.3");
    CHECK(send_text(c, "secret\n"));
    CHECK(recv_text(c, "secret too\n"));
    pthread_join(t, NULL);
    CHECK_EQ(job.ok, 1);
    ns_socket_free(c);
    ns_socket_free(server);
    ns_options_free(po);
    tls_fixture_free(&f);
}

static void test_bad_upgrades_are_refused_and_change_nothing(void)
{
    tls_fixture f;
    CHECK(tls_fixture_init(&f));
    ns_options *po = ns_options_new(NS_SOCKET_OPTIONS);
    ns_socket *server = ns_make_server_socket("127.0.0.1", "0", po);
    ns_socket *c = ns_make_client_socket("127.0.0.1", port_of(server), po);
    CHECK(server && c);
    CHECK_EQ(ns_socket_start_tls(NULL, f.client), NS_ERR_INVALID);
    CHECK_EQ(ns_socket_start_tls(c, po), NS_ERR_INVALID);
    char want[160];
    snprintf(want, sizeof want, "start TLS on 127.0.0.1:%s: the options are not TLS options",
             port_of(server));
    CHECK_STR(ns_last_error(), want);
    CHECK_EQ(ns_socket_start_tls(c, NULL), NS_ERR_INVALID);
    CHECK_EQ(ns_socket_start_tls(server, f.server), NS_ERR_INVALID);
    snprintf(want, sizeof want, "start TLS on 127.0.0.1:%s: a listening socket has no peer",
             port_of(server));
    CHECK_STR(ns_last_error(), want);
    ns_socket *conn = NULL;
    for (int i = 0; i < 100 && !conn; i++)
        conn = ns_socket_accept(server);
    CHECK(conn != NULL);
    /* An accepted socket as a client needs a name to check. */
    CHECK_EQ(ns_socket_start_tls(conn, f.client), NS_ERR_INVALID);
    CHECK(strstr(ns_last_error(), ": no name to check the server against: add one with sni"));
    CHECK_EQ(ns_socket_is_tls(c), 0);
    CHECK_EQ(ns_socket_is_tls(conn), 0);
    /* Still plain and working. */
    CHECK_EQ(ns_socket_send(c, "x", 1, 0), 1);
    ns_socket_free(conn);
    ns_socket_free(c);
    ns_socket_free(server);
    ns_options_free(po);
    tls_fixture_free(&f);
}

static const ns_test tests[] = {
    TEST(test_plain_connection_upgraded_on_both_sides),
    TEST(test_bad_upgrades_are_refused_and_change_nothing),
};
NS_TEST_MAIN(tests)
