/* Fuzz target: a netsocket TLS client whose server sends the input (then
 * EOF).  The handshake must fail cleanly (or succeed); never crash, hang
 * or leak. */
#include "fuzz_common.h"

static int listener = -1, port;
static ns_options *options;

static void options_free(void) { ns_options_free(options); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (listener < 0) {
        fuzz_certs();
        listener = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        if (listener < 0 || bind(listener, (struct sockaddr *)&a, sizeof a) != 0 ||
            listen(listener, 16) != 0 || getsockname(listener, (struct sockaddr *)&a, &len) != 0)
            abort();
        port = ntohs(a.sin_port);
        options = ns_options_new(NS_TLS_SOCKET_OPTIONS);
        atexit(options_free);
        const char *ca = certgen_cert_pem(fuzz_ca);
        ns_options_add_trusted_certificate(options, ca, strlen(ca));
        ns_options_add_sni(options, "localhost");
        ns_options_add_alpn(options, "h2");
        ns_options_set_handshake(options, 0);
        ns_options_set_non_blocking(options, 0);
        ns_options_set_read_timeout(options, 1000000);
    }
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    ns_socket *c = ns_make_client_tls_socket("127.0.0.1", service, options);
    if (c == NULL)
        abort();
    int fd = accept(listener, NULL, NULL);
    if (fd < 0)
        abort();
    raw_send_and_end(fd, data, size);
    if (ns_socket_handshake(c) == NS_OK) {
        char buf[256];
        ns_socket_recv(c, buf, sizeof buf, 0);
        ns_socket_peer_certificate(c, NULL);
    }
    raw_abort(fd);
    ns_socket_free(c);
    return 0;
}
