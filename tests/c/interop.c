/* The interop tests' certificates, netsocket's ends and the peer programs'
 * start (interop.h). */
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "interop.h"

static char dir[] = "/tmp/ns-interop-XXXXXX";
struct interop_certs cert;
const char *const alpn_h2_http11[] = {"h2", "http/1.1", NULL};
const char *const alpn_http11[] = {"http/1.1", NULL};
const char *const alpn_h2[] = {"h2", NULL};

const char *path(const char *name, const char *ext)
{
    static char bufs[16][PATH_MAX];
    static unsigned next;
    char *b = bufs[next++ % 16];
    snprintf(b, PATH_MAX, "%s/%s.%s", dir, name, ext);
    return b;
}

static int make_certificates(void)
{
    if (mkdtemp(dir) == NULL)
        return -1;
    cert.ca = certgen_ca("netsocket interop CA");
    /* The default server identity does not cover alt.test, so a peer that
     * ignores SNI makes the alt.test handshakes fail host name checks. */
    cert.server = certgen_leaf(cert.ca, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 30);
    cert.alt = certgen_leaf(cert.ca, "alt.test", "DNS:alt.test", -1, 30);
    cert.client = certgen_leaf(cert.ca, "netsocket interop client", NULL, -1, 30);
    return certgen_write(cert.ca, dir, "ca") | certgen_write(cert.server, dir, "server") |
           certgen_write(cert.alt, dir, "alt") | certgen_write(cert.client, dir, "client");
}

static void remove_certificates(void)
{
    static const char *names[] = {"ca", "server", "alt", "client"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        unlink(path(names[i], "crt"));
        unlink(path(names[i], "key"));
    }
    unlink(path("session", "pem"));
    rmdir(dir);
    certgen_free(cert.ca);
    certgen_free(cert.server);
    certgen_free(cert.alt);
    certgen_free(cert.client);
}

const char *free_port(void)
{
    static char buf[16];
    ns_socket *s = ns_make_server_socket("127.0.0.1", "0", NULL);
    snprintf(buf, sizeof buf, "%d", s ? ns_socket_local_port(s) : 0);
    ns_socket_free(s);
    return buf;
}

ns_socket *connect_peer(const char *port, const char *sni, const char *const *alpn, int with_cert)
{
    ns_options *o = blocking_options(NS_TLS_SOCKET_OPTIONS, TIMEOUT_US);
    ns_options_set_connection_timeout(o, TIMEOUT_US);
    const char *pem = certgen_cert_pem(cert.ca);
    ns_options_add_trusted_certificate(o, pem, strlen(pem));
    if (sni)
        ns_options_add_sni(o, sni);
    for (; alpn && *alpn; alpn++)
        ns_options_add_alpn(o, *alpn);
    if (with_cert) {
        pem = certgen_cert_pem(cert.client);
        ns_options_add_certificate(o, pem, strlen(pem));
        pem = certgen_key_pem(cert.client);
        ns_options_set_private_key(o, pem, strlen(pem));
    }
    int64_t deadline = now_us() + 3000000;
    ns_socket *c;
    for (;;) {
        c = ns_make_client_tls_socket("127.0.0.1", port, o);
        if (c != NULL || ns_last_status() != NS_ERR_CONNECT || now_us() >= deadline)
            break;
        usleep(20000);
    }
    ns_options_free(o);
    if (c != NULL)
        ns_clear_error(); /* the refused tries are not news */
    return c;
}

int connect_status(const char *port, const char *sni, const char *const *alpn, int with_cert)
{
    ns_socket *c = connect_peer(port, sni, alpn, with_cert);
    if (c == NULL)
        return ns_last_status();
    ns_socket_free(c);
    return NS_OK;
}

ns_socket *tls_server_verified(const char *const *alpn, int require_cert, verdict *v)
{
    ns_options *o = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, TIMEOUT_US);
    const char *pem = certgen_cert_pem(cert.server);
    ns_options_add_certificate(o, pem, strlen(pem));
    pem = certgen_key_pem(cert.server);
    ns_options_set_private_key(o, pem, strlen(pem));
    for (; alpn && *alpn; alpn++)
        ns_options_add_alpn(o, *alpn);
    if (require_cert) {
        pem = certgen_cert_pem(cert.ca);
        ns_options_add_trusted_certificate(o, pem, strlen(pem));
        ns_options_set_client_certificate_required(o, 1);
    }
    if (v)
        ns_options_set_certificate_verifier(o, verdict_verifier, v);
    ns_socket *s = ns_make_server_tls_socket("127.0.0.1", "0", o);
    ns_options_free(o);
    return s;
}

ns_socket *tls_server(const char *const *alpn, int require_cert)
{
    return tls_server_verified(alpn, require_cert, NULL);
}

ns_socket *accept_peer(ns_socket *server, const peer *p)
{
    struct pollfd pfd = {ns_socket_fd(server), POLLIN, 0};
    if (p == NULL || poll(&pfd, 1, TIMEOUT_US / 1000) != 1) {
        fprintf(stderr, "  no connection within %d us\n", TIMEOUT_US);
        return NULL;
    }
    return ns_socket_accept(server);
}

int exchange_via_stdio(ns_socket *s, peer *p)
{
    if (!send_text(s, "netsocket says hello\n") ||
        !peer_saw(p, "netsocket says hello", TIMEOUT_US)) {
        fprintf(stderr, "  %s did not print what netsocket sent\n", p->name);
        return 0;
    }
    if (!peer_write(p, "peer says hello\n") || !recv_text(s, "peer says hello\n")) {
        fprintf(stderr, "  netsocket did not receive what %s sent\n", p->name);
        return 0;
    }
    return 1;
}

int exchange_around_key_updates(ns_socket *s, peer *p, const char *ack)
{
    static const char *const commands[] = {"k\n", "K\n"};
    int ok = exchange_via_stdio(s, p);
    for (size_t i = 0; ok && i < 2; i++) {
        peer_mark(p);
        ok = peer_write(p, commands[i]) && peer_saw(p, ack, TIMEOUT_US) &&
             exchange_via_stdio(s, p);
    }
    return ok;
}

ssize_t recv_after_renegotiation_request(ns_socket *s, peer *p, const char *command,
                                         const char *ack)
{
    char buf[64];
    if (!exchange_via_stdio(s, p) || !peer_write(p, command) || !peer_saw(p, ack, TIMEOUT_US))
        return 1;
    return ns_socket_recv(s, buf, sizeof buf, 0);
}

int exchange_then_free(ns_socket *s, peer *p)
{
    int ok = exchange_via_stdio(s, p);
    ns_socket_free(s);
    return ok;
}

int exchange_via_echo(ns_socket *s)
{
    return send_text(s, "echo me, please\n") && recv_text(s, "echo me, please\n");
}

int serve_client_to_the_end(ns_socket *conn, peer *p)
{
    char buf[16];
    int ok = exchange_via_stdio(conn, p);
    /* At the end of its stdin the client sends close_notify and exits. */
    peer_close_stdin(p);
    ok = ok && ns_socket_recv(conn, buf, sizeof buf, 0) == 0;
    ns_socket_free(conn);
    return ok && peer_wait_exit(p, TIMEOUT_US) && peer_exited_ok(p);
}

int peer_certificate_is(ns_socket *s, const test_cert *c)
{
    size_t len;
    const unsigned char *der = ns_socket_peer_certificate(s, &len);
    return certgen_is(c, der, len);
}

peer *start_s_server(const char *const *extra, const char **port)
{
    *port = free_port();
    char accept_arg[64];
    snprintf(accept_arg, sizeof accept_arg, "127.0.0.1:%s", *port);
    const char *argv[] = {"openssl", "s_server", "-accept", accept_arg, "-cert",
                          path("server", "crt"), "-key", path("server", "key"), NULL};
    return peer_run(argv, extra);
}

ns_socket *connect_s_server(const char *const *extra, const char **port, peer **p,
                            const char *sni, const char *const *alpn, int with_cert)
{
    *p = start_s_server(extra, port);
    return *p ? connect_peer(*port, sni, alpn, with_cert) : NULL;
}

peer *start_gnutls_serv(const char *identity, const char *const *extra, const char **port)
{
    *port = free_port();
    const char *argv[] = {"gnutls-serv",   "--echo",              "--port",
                          *port,           "--x509certfile",      path(identity, "crt"),
                          "--x509keyfile", path(identity, "key"), NULL};
    return peer_run(argv, extra);
}


peer *start_s_client(ns_socket *server, const char *const *extra)
{
    char connect_arg[64];
    snprintf(connect_arg, sizeof connect_arg, "127.0.0.1:%d", ns_socket_local_port(server));
    const char *argv[] = {"openssl", "s_client", "-connect", connect_arg, "-CAfile",
                          path("ca", "crt"), "-verify_return_error", "-verify_hostname",
                          "localhost", NULL};
    return peer_run(argv, extra);
}

ns_socket *accept_s_client(const char *const *alpn, int require_cert, const char *const *extra,
                           peer **p)
{
    *p = NULL;
    ns_socket *server = tls_server(alpn, require_cert);
    if (server == NULL)
        return NULL;
    *p = start_s_client(server, extra);
    ns_socket *conn = accept_peer(server, *p);
    ns_socket_free(server);
    return conn;
}

int serve_s_client_expecting(ns_socket *server, const char *const *extra, const char *outcome)
{
    peer *p = start_s_client(server, extra);
    ns_socket *conn = accept_peer(server, p);
    return conn != NULL && serve_client_to_the_end(conn, p) && peer_saw(p, outcome, 0);
}

int interop_main(const ns_test *tests, size_t n, int argc, char **argv)
{
    /* A peer that dies while we write to it must fail a check, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    if (make_certificates() != 0) {
        fprintf(stderr, "cannot write the test certificates into %s\n", dir);
        return 1;
    }
    int rc = ns_test_main(tests, n, argc, argv);
    remove_certificates();
    return rc;
}
