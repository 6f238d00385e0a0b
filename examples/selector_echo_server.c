/* An echo server on the selector: thousands of concurrent plain and TLS
 * clients on one thread.  Each connection is watched with its own idle
 * timeout; TLS handshakes run non-blocking, driven by readability.
 *
 *   selector_echo_server PLAIN_PORT [TLS_PORT CERT.pem KEY.pem]
 *
 * Ports may be 0; the chosen ones are printed as "plain PORT" / "tls PORT".
 * ECHO_MAX_CONNECTIONS=N makes it exit after N connections have ended. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsocket.h"

#define IDLE_TIMEOUT_US (10 * 1000000)

static int fail(const char *what)
{
    fprintf(stderr, "selector_echo_server: %s: %s\n", what, ns_last_error());
    return 1;
}

/* The listening sockets are told apart from connections by their data. */
static char listener_tag;

static void accept_all(ns_selector *sel, ns_socket *server)
{
    ns_socket *conn;
    while ((conn = ns_socket_accept(server)) != NULL) {
        if (ns_selector_add(sel, conn, IDLE_TIMEOUT_US, NULL) != NS_OK)
            ns_socket_free(conn);
    }
    if (ns_last_status() != NS_ERR_WOULD_BLOCK)
        fail("accept"); /* e.g. out of descriptors: keep serving the others */
    ns_selector_add(sel, server, -1, &listener_tag);
}

/* Echoes what is readable; returns 0 once the connection is over. */
static int echo(ns_socket *conn)
{
    char buf[16384];
    for (;;) {
        /* On a TLS socket with handshake = 0 the first recv also drives the
         * handshake; NS_ERR_WOULD_BLOCK means "wait for more". */
        ssize_t n = ns_socket_recv(conn, buf, sizeof buf, 0);
        if (n == NS_ERR_WOULD_BLOCK)
            return 1;
        if (n <= 0)
            return 0;
        if (ns_socket_send_all(conn, buf, (size_t)n, 0) != n)
            return 0;
    }
}

static ns_socket *listen_on(const char *port, const char *cert, const char *key)
{
    ns_options *o = ns_options_new(cert ? NS_SERVER_TLS_SOCKET_OPTIONS : NS_SOCKET_OPTIONS);
    ns_options_set_non_blocking(o, 1);
    if (cert) {
        ns_options_set_handshake(o, 0); /* handshakes are driven by the loop */
        if (ns_options_add_certificate_file(o, cert) != NS_OK ||
            ns_options_set_private_key_file(o, key) != NS_OK) {
            ns_options_free(o);
            return NULL;
        }
    }
    ns_socket *s = cert ? ns_make_server_tls_socket("127.0.0.1", port, o)
                        : ns_make_server_socket("127.0.0.1", port, o);
    ns_options_free(o);
    return s;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 5) {
        fprintf(stderr, "usage: selector_echo_server PLAIN_PORT [TLS_PORT CERT.pem KEY.pem]\n");
        return 2;
    }
    long max_done = getenv("ECHO_MAX_CONNECTIONS") ? atol(getenv("ECHO_MAX_CONNECTIONS")) : -1;
    ns_socket *plain = listen_on(argv[1], NULL, NULL);
    ns_socket *tls = argc == 5 ? listen_on(argv[2], argv[3], argv[4]) : NULL;
    if (!plain || (argc == 5 && !tls))
        return fail("listen");
    ns_selector *sel = ns_selector_new();
    if (!sel)
        return fail("selector");
    ns_selector_add(sel, plain, -1, &listener_tag);
    printf("plain %d\n", ns_socket_local_port(plain));
    if (tls) {
        ns_selector_add(sel, tls, -1, &listener_tag);
        printf("tls %d\n", ns_socket_local_port(tls));
    }
    fflush(stdout);

    long done = 0;
    while (max_done < 0 || done < max_done) {
        int n = ns_selector_wait(sel, -1);
        if (n < 0)
            return fail("wait");
        for (int i = 0; i < n; i++) {
            ns_socket *s = ns_selector_event_socket(sel, i);
            if (ns_selector_event_data(sel, i) == &listener_tag) {
                accept_all(sel, s);
            } else if (!ns_selector_event_timed_out(sel, i) && echo(s)) {
                ns_selector_add(sel, s, IDLE_TIMEOUT_US, NULL);
            } else {
                ns_socket_free(s); /* ended, failed, or idle too long */
                done++;
            }
        }
    }
    printf("served %ld connections\n", done);
    ns_selector_free(sel);
    ns_socket_free(plain);
    ns_socket_free(tls);
    return 0;
}
