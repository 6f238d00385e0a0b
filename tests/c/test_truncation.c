/* A TLS peer that closes without close_notify: an error that says so by
 * default, the end of the stream with ignore-unexpected-eof? (issue 13). */
#include <sys/socket.h>

#include "certgen.h"
#include "testlib.h"

static test_cert *ca, *server_cert; /* made once, kept to the end */

static void setup(void)
{
    if (ca)
        return;
    ca = certgen_ca("netsocket test CA");
    server_cert = certgen_leaf(ca, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 365);
}

/* Accepts one client, sends "hello", then shuts the TCP connection down
 * under TLS's feet: no close_notify. */
static void *send_and_vanish(void *server)
{
    ns_socket *conn = ns_socket_accept(server);
    if (conn != NULL) {
        send_text(conn, "hello");
        shutdown(ns_socket_fd(conn), SHUT_RDWR);
        ns_socket_free(conn);
    }
    return NULL;
}

/* Connects to such a server with `ignore` set; returns the second recv's
 * result (after "hello") with the error state it left. */
static ssize_t recv_after_vanish(int ignore, char *label, size_t label_len)
{
    setup();
    ns_options *so = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, SLACK(5000000));
    ns_options_add_certificate(so, certgen_cert_pem(server_cert), strlen(certgen_cert_pem(server_cert)));
    ns_options_set_private_key(so, certgen_key_pem(server_cert), strlen(certgen_key_pem(server_cert)));
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    ns_options_free(so);
    if (server == NULL)
        return -100;
    pthread_t t = spawn(send_and_vanish, server);
    ns_options *co = blocking_options(NS_TLS_SOCKET_OPTIONS, SLACK(5000000));
    ns_options_add_trusted_certificate(co, certgen_cert_pem(ca), strlen(certgen_cert_pem(ca)));
    ns_options_set_ignore_unexpected_eof(co, ignore);
    snprintf(label, label_len, "localhost:%s", port_of(server));
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), co);
    ns_options_free(co);
    ssize_t r = -101;
    char buf[16];
    if (c != NULL && ns_socket_recv(c, buf, sizeof buf, MSG_WAITALL) == 5 && memcmp(buf, "hello", 5) == 0)
        r = ns_socket_recv(c, buf, sizeof buf, 0);
    pthread_join(t, NULL);
    ns_socket_free(c);
    ns_socket_free(server);
    return r;
}

static void default_is_an_error_that_says_so(void)
{
    char label[64], want[512];
    CHECK_EQ(recv_after_vanish(0, label, sizeof label), NS_ERR_CLOSED);
    snprintf(want, sizeof want,
             "TLS recv from %s: the peer closed the connection without close_notify (what was "
             "received may be truncated; the option ignore-unexpected-eof? accepts this as the "
             "end of the stream)", label);
    CHECK_STR(ns_last_error(), want);
}

static void opt_in_is_end_of_stream(void)
{
    char label[64];
    CHECK_EQ(recv_after_vanish(1, label, sizeof label), 0);
}

static void option_field(void)
{
    ns_options *o = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_get_ignore_unexpected_eof(o), 0);
    CHECK_EQ(ns_options_set_ignore_unexpected_eof(o, 1), NS_OK);
    ns_options *copy = ns_options_copy(o, NS_SERVER_TLS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_get_ignore_unexpected_eof(copy), 1);
    ns_options *plain = ns_options_new(NS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_set_ignore_unexpected_eof(plain, 1), NS_ERR_INVALID);
    CHECK_EQ(ns_options_get_ignore_unexpected_eof(NULL), 0);
    ns_options_free(plain);
    ns_options_free(copy);
    ns_options_free(o);
}

static const ns_test tests[] = {
    TEST(option_field),
    TEST(default_is_an_error_that_says_so),
    TEST(opt_in_is_end_of_stream),
};

NS_TEST_MAIN(tests)
