/* Fuzz target: a netsocket TLS server fed the input as everything its
 * client sends (then EOF).  It must fail cleanly or, if the bytes form a
 * handshake, serve; never crash, hang or leak. */
#include "fuzz_common.h"
#include "fuzz_record.h"

static ns_socket *server;

static void server_free(void) { ns_socket_free(server); }

static void make_server(void)
{
    if (server == NULL) {
        fuzz_certs();
        ns_options *o = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
        const char *crt = certgen_cert_pem(fuzz_leaf), *key = certgen_key_pem(fuzz_leaf);
        const char *ca = certgen_cert_pem(fuzz_ca);
        ns_options_add_certificate(o, crt, strlen(crt));
        ns_options_set_private_key(o, key, strlen(key));
        ns_options_add_trusted_certificate(o, ca, strlen(ca)); /* asks for client certs */
        ns_options_add_alpn(o, "h2");
        ns_options_add_alpn(o, "http/1.1");
        ns_options_set_non_blocking(o, 0);
        ns_options_set_read_timeout(o, 1000000);
        server = ns_make_server_tls_socket("127.0.0.1", "0", o);
        ns_options_free(o);
        if (server == NULL)
            abort();
        atexit(server_free);
    }
}

static void *serve_hello(void *arg)
{
    ns_socket *conn = ns_socket_accept(server);
    char buf[16];
    if (conn == NULL || ns_socket_recv(conn, buf, 5, MSG_WAITALL) != 5 ||
        ns_socket_send_all(conn, buf, 5, 0) != 5)
        abort();
    ns_socket_free(conn);
    return arg;
}

/* NS_FUZZ_RECORD=file: writes what a netsocket client sends in a whole
 * exchange (handshake, "hello", close_notify) as a seed, and exits. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (getenv("NS_FUZZ_RECORD") == NULL)
        return 0;
    make_server();
    relay_job j;
    pthread_t relay_thread, server_thread;
    char port[16];
    snprintf(port, sizeof port, "%d",
             fuzz_record_start(&j, &relay_thread, ns_socket_local_port(server), 1));
    pthread_create(&server_thread, NULL, serve_hello, NULL);
    ns_options *o = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    const char *ca = certgen_cert_pem(fuzz_ca);
    ns_options_add_trusted_certificate(o, ca, strlen(ca));
    ns_options_add_alpn(o, "h2");
    ns_options_set_non_blocking(o, 0);
    ns_socket *c = ns_make_client_tls_socket("localhost", port, o);
    char buf[8];
    if (c == NULL || ns_socket_send_all(c, "hello", 5, 0) != 5 ||
        ns_socket_recv(c, buf, 5, MSG_WAITALL) != 5)
        abort();
    ns_socket_free(c);
    ns_options_free(o);
    pthread_join(server_thread, NULL);
    fuzz_record_end(&j, relay_thread);
    exit(0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    make_server();
    int fd = raw_connect(ns_socket_local_port(server));
    if (fd < 0)
        abort();
    raw_send_and_end(fd, data, size);
    ns_socket *conn = ns_socket_accept(server);
    /* NS_FUZZ_EXPECT_DATA: the input must get as far as application data
     * "hello" (to check that a recorded seed does, in the fuzzer-mode tree). */
    int expect_data = getenv("NS_FUZZ_EXPECT_DATA") != NULL;
    if (conn) {
        char buf[256];
        ssize_t n = ns_socket_recv(conn, buf, sizeof buf, 0);
        if (expect_data && (n != 5 || memcmp(buf, "hello", 5) != 0))
            abort();
        ns_socket_peer_certificate(conn, NULL);
        ns_socket_server_name(conn);
    } else if (expect_data) {
        abort();
    }
    raw_abort(fd);
    ns_socket_free(conn);
    return 0;
}
