/* A TLS (or plain) echo server using the options API.
 *
 *   echo_server [--plain] PORT CERT.pem KEY.pem [ALPN...]
 *
 * Serves clients one after another; each line received is sent back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsocket.h"

static int fail(const char *what)
{
    fprintf(stderr, "echo_server: %s: %s (%s)\n", what, ns_last_error(),
            ns_status_name(ns_last_status()));
    return 1;
}

int main(int argc, char **argv)
{
    int plain = argc > 1 && strcmp(argv[1], "--plain") == 0;
    if (argc < (plain ? 3 : 4)) {
        fprintf(stderr, "usage: echo_server [--plain] PORT [CERT.pem KEY.pem [ALPN...]]\n");
        return 2;
    }
    const char *port = argv[plain ? 2 : 1];
    int max_clients = getenv("ECHO_MAX_CLIENTS") ? atoi(getenv("ECHO_MAX_CLIENTS")) : -1;

    ns_options *o = ns_options_new(plain ? NS_SOCKET_OPTIONS : NS_SERVER_TLS_SOCKET_OPTIONS);
    ns_options_set_non_blocking(o, 0);
    ns_options_set_read_timeout(o, 10 * 1000000); /* a silent client cannot hold us */
    if (!plain) {
        if (ns_options_add_certificate_file(o, argv[2]) != NS_OK ||
            ns_options_set_private_key_file(o, argv[3]) != NS_OK)
            return fail("loading the certificate");
        for (int i = 4; i < argc; i++)
            ns_options_add_alpn(o, argv[i]);
    }
    ns_socket *server = plain ? ns_make_server_socket("127.0.0.1", port, o)
                              : ns_make_server_tls_socket("127.0.0.1", port, o);
    ns_options_free(o);
    if (!server)
        return fail("listen");
    printf("listening on 127.0.0.1:%d (%s)\n", ns_socket_local_port(server), plain ? "TCP" : "TLS");
    fflush(stdout);

    for (int served = 0; max_clients < 0 || served < max_clients; served++) {
        ns_socket *c = ns_socket_accept(server);
        if (!c) {
            fail("accept"); /* a bad client: report and serve the next */
            continue;
        }
        if (ns_socket_is_tls(c))
            printf("client: %s, ALPN %s\n", ns_socket_tls_version(c),
                   ns_socket_selected_alpn(c) ? ns_socket_selected_alpn(c) : "(none)");
        char buf[4096];
        ssize_t n;
        while ((n = ns_socket_recv(c, buf, sizeof buf, 0)) > 0)
            if (ns_socket_send_all(c, buf, (size_t)n, 0) < 0)
                break;
        if (n < 0)
            fail("recv");
        ns_socket_free(c);
    }
    ns_socket_free(server);
    return 0;
}
