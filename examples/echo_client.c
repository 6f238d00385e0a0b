/* A TLS (or plain) echo client using the options API.
 *
 *   echo_client [--plain] HOST PORT [CA.pem [ALPN]] MESSAGE
 *
 * Sends MESSAGE, prints what comes back.  Verifies the server against CA.pem
 * (or the system store) and checks the host name. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "netsocket.h"

static int fail(const char *what)
{
    fprintf(stderr, "echo_client: %s: %s (%s)\n", what, ns_last_error(),
            ns_status_name(ns_last_status()));
    return 1;
}

int main(int argc, char **argv)
{
    int plain = argc > 1 && strcmp(argv[1], "--plain") == 0;
    char **arg = argv + 1 + plain;
    int left = argc - 1 - plain;
    if (left < 3) {
        fprintf(stderr, "usage: echo_client [--plain] HOST PORT [CA.pem [ALPN]] MESSAGE\n");
        return 2;
    }
    const char *host = arg[0], *port = arg[1], *message = arg[left - 1];
    ns_options *o = ns_options_new(plain ? NS_SOCKET_OPTIONS : NS_TLS_SOCKET_OPTIONS);
    ns_options_set_non_blocking(o, 0);
    ns_options_set_connection_timeout(o, 5 * 1000000);
    ns_options_set_read_timeout(o, 5 * 1000000);
    if (!plain && left >= 4 && ns_options_add_trusted_certificate_file(o, arg[2]) != NS_OK)
        return fail("loading the CA");
    if (!plain && left >= 5)
        ns_options_add_alpn(o, arg[3]);
    ns_socket *s = ns_socket_connect(o, host, port);
    ns_options_free(o);
    if (!s)
        return fail("connect");
    if (ns_socket_is_tls(s))
        printf("connected: %s %s, ALPN %s\n", ns_socket_tls_version(s), ns_socket_tls_cipher(s),
               ns_socket_selected_alpn(s) ? ns_socket_selected_alpn(s) : "(none)");
    size_t len = strlen(message), got = 0;
    char buf[4096];
    if (ns_socket_send_all(s, message, len, 0) < 0)
        return fail("send");
    ns_socket_shutdown(s, SHUT_WR);
    ssize_t n;
    while (got < sizeof buf - 1 && (n = ns_socket_recv(s, buf + got, sizeof buf - 1 - got, 0)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    printf("echoed: %s\n", buf);
    ns_socket_free(s);
    return got == len && memcmp(buf, message, len) == 0 ? 0 : 1;
}
