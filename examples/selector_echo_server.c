/* An echo server on the selector: thousands of concurrent plain and TLS
 * clients on one thread, and none of them can hold up the others.
 *  - Accept never blocks: a TLS handshake runs under the loop and must be
 *    over by the handshake deadline (the server's read timeout).
 *  - A client that sends nothing for the idle timeout is dropped (the read
 *    timeout each client gets once accepted).
 *  - Echoed bytes wait in a bounded buffer: while it holds any, the client
 *    is not read, and one that takes none of it within the write timeout
 *    is dropped.  A client that stops reading costs one buffer, no more.
 * After each call that must wait, the loop waits as the socket says:
 * ns_socket_wants for which way, ns_socket_wants_timeout for how long.
 *
 *   selector_echo_server PLAIN_PORT [TLS_PORT CERT.pem KEY.pem]
 *
 * Ports may be 0; the chosen ones are printed as "plain PORT" / "tls PORT".
 * ECHO_HANDSHAKE_MS, ECHO_IDLE_MS and ECHO_WRITE_MS change the limits
 * (10 s, 60 s, 10 s); ECHO_MAX_CONNECTIONS=N makes it exit after N
 * connections have ended. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsocket.h"

typedef struct {
    ns_socket *s;
    size_t len;        /* bytes in buf still to echo */
    int eof;           /* the client has sent everything */
    char buf[16384];
} client;

static int64_t idle_us;

static int fail(const char *what)
{
    fprintf(stderr, "selector_echo_server: %s: %s\n", what, ns_last_error());
    return 1;
}

/* Echoes as far as it goes without waiting: sends what is buffered, then
 * reads more.  Returns the direction to wait for, or 0 once the client is
 * done or failed. */
static int serve(client *c)
{
    for (;;) {
        if (c->len > 0) {
            /* A TLS send that would block must be retried with the same
             * bytes: they stay at the front of buf until sent. */
            ssize_t n = ns_socket_send(c->s, c->buf, c->len, 0);
            if (n < 0)
                return n == NS_ERR_WOULD_BLOCK ? ns_socket_wants(c->s) : 0;
            c->len -= (size_t)n;
            memmove(c->buf, c->buf + n, c->len);
        } else if (c->eof) {
            return 0;
        } else {
            ssize_t n = ns_socket_recv(c->s, c->buf, sizeof c->buf, 0);
            if (n < 0)
                return n == NS_ERR_WOULD_BLOCK ? ns_socket_wants(c->s) : 0;
            c->len = (size_t)n;
            c->eof = n == 0;
        }
    }
}

/* Serves c and watches it for what it now waits for, until that call's
 * deadline; 0 if it is over (then free its socket). */
static int serve_and_watch(ns_selector *sel, client *c)
{
    int want = serve(c);
    return want != 0 &&
           ns_selector_watch(sel, c->s, want, ns_socket_wants_timeout(c->s), c, free) == NS_OK;
}

/* Accepts every pending client; counts in *done those over at once. */
static void accept_all(ns_selector *sel, ns_socket *server, long *done)
{
    ns_socket *conn;
    while ((conn = ns_socket_accept(server)) != NULL) {
        client *c = calloc(1, sizeof *c);
        if (c == NULL) {
            ns_socket_free(conn);
            continue;
        }
        c->s = conn;
        /* accept has set the handshake's deadline; now the idle timeout. */
        ns_socket_set_read_timeout(conn, idle_us);
        /* The selector owns c from here: free(c) once conn leaves it. */
        if (ns_selector_watch(sel, conn, NS_WANT_READ, -1, c, free) != NS_OK ||
            !serve_and_watch(sel, c)) {
            ns_socket_free(conn);
            ++*done;
        }
    }
    if (ns_last_status() != NS_ERR_WOULD_BLOCK)
        fail("accept"); /* e.g. a failed TLS setup: keep serving the others */
}

static int64_t limit_us(const char *name, int64_t ms)
{
    const char *v = getenv(name);
    return (v ? atoll(v) : ms) * 1000;
}

static ns_socket *listen_on(const char *port, const char *cert, const char *key)
{
    ns_options *o = ns_options_new(cert ? NS_SERVER_TLS_SOCKET_OPTIONS : NS_SOCKET_OPTIONS);
    ns_options_set_non_blocking(o, 1);
    ns_options_set_read_timeout(o, limit_us("ECHO_HANDSHAKE_MS", 10000));
    ns_options_set_write_timeout(o, limit_us("ECHO_WRITE_MS", 10000));
    if (cert && (ns_options_add_certificate_file(o, cert) != NS_OK ||
                 ns_options_set_private_key_file(o, key) != NS_OK)) {
        ns_options_free(o);
        return NULL;
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
    idle_us = limit_us("ECHO_IDLE_MS", 60000);
    ns_socket *plain = listen_on(argv[1], NULL, NULL);
    ns_socket *tls = argc == 5 ? listen_on(argv[2], argv[3], argv[4]) : NULL;
    if (!plain || (argc == 5 && !tls))
        return fail("listen");
    ns_selector *sel = ns_selector_new();
    if (!sel)
        return fail("selector");
    /* Listeners are watched without data; clients with theirs. */
    if (ns_selector_watch(sel, plain, NS_WANT_READ, -1, NULL, NULL) != NS_OK ||
        (tls && ns_selector_watch(sel, tls, NS_WANT_READ, -1, NULL, NULL) != NS_OK))
        return fail("watch");
    printf("plain %d\n", ns_socket_local_port(plain));
    if (tls)
        printf("tls %d\n", ns_socket_local_port(tls));
    fflush(stdout);

    long done = 0;
    while (max_done < 0 || done < max_done) {
        int n = ns_selector_wait(sel, -1);
        if (n < 0)
            return fail("wait");
        for (int i = 0; i < n; i++) {
            ns_socket *s = ns_selector_event_socket(sel, i);
            client *c = ns_selector_event_data(sel, i);
            if (c == NULL) {
                accept_all(sel, s, &done);
            } else if (ns_selector_event_timed_out(sel, i) || !serve_and_watch(sel, c)) {
                ns_socket_free(s); /* ended, failed, or past a deadline; frees c */
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
