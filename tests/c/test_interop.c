/* Interoperability with TLS peers no one here wrote: netsocket as a client
 * of `openssl s_server` and `gnutls-serv`, and as a server for
 * `openssl s_client` and `gnutls-cli`.  Each test asserts what both ends
 * saw: the version, ALPN, SNI, the client certificate and data both ways;
 * TLS 1.0/1.1 refused; then what real peers do beyond a handshake:
 * KeyUpdate, HelloRetryRequest, resumption, renegotiation requests,
 * truncation, and bulk data in non-blocking mode.
 *
 * The peers run as child processes on 127.0.0.1 with their stdin and
 * stdout/stderr on pipes.  Every wait is bounded, and every child is killed
 * and reaped when its test ends, also when a CHECK failed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "certgen.h"
#include "testlib.h"

#define TIMEOUT_US 5000000 /* read timeout and bound of every wait */

/* ------------------------------------------------------------------ */
/* Certificates, written once per run into a temporary directory       */
/* ------------------------------------------------------------------ */

static char dir[] = "/tmp/ns-interop-XXXXXX";
static test_cert *ca, *server_cert, *alt_cert, *client_cert;

/* "<dir>/<name>.<ext>" in one of a few rotating buffers, so several fit in one argv. */
static const char *path(const char *name, const char *ext)
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
    ca = certgen_ca("netsocket interop CA");
    /* The default server identity does not cover alt.test, so a peer that
     * ignores SNI makes the alt.test handshakes fail host name checks. */
    server_cert = certgen_leaf(ca, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 30);
    alt_cert = certgen_leaf(ca, "alt.test", "DNS:alt.test", -1, 30);
    client_cert = certgen_leaf(ca, "netsocket interop client", NULL, -1, 30);
    return certgen_write(ca, dir, "ca") | certgen_write(server_cert, dir, "server") |
           certgen_write(alt_cert, dir, "alt") | certgen_write(client_cert, dir, "client");
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
    certgen_free(ca);
    certgen_free(server_cert);
    certgen_free(alt_cert);
    certgen_free(client_cert);
}

/* ------------------------------------------------------------------ */
/* Peer processes                                                      */
/* ------------------------------------------------------------------ */

typedef struct {
    pid_t pid;
    int in;  /* the child's stdin; -1 once closed */
    int out; /* the child's stdout and stderr; -1 at end of file */
    char log[1 << 17];
    size_t log_len;
    size_t mark; /* peer_saw looks at the output from here on */
    int reaped, status;
    char name[48];
} peer;

static peer peers[8];
static int peer_count;

static int have_program(const char *name)
{
    const char *p = getenv("PATH");
    char buf[PATH_MAX];
    while (p && *p) {
        size_t n = strcspn(p, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, p, name);
        if (access(buf, X_OK) == 0)
            return 1;
        p += n + (p[n] == ':');
    }
    return 0;
}

/* Starts argv[0] with pipes on its stdin and stdout+stderr; name[0] and
 * name[1] name it in messages.  Use peer_run. */
static peer *peer_start(char *const argv[], char *const name[])
{
    if (peer_count == (int)(sizeof peers / sizeof peers[0]))
        return NULL;
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0)
        return NULL;
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        return NULL;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        signal(SIGPIPE, SIG_DFL);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    if (pid < 0) {
        close(in[1]);
        close(out[0]);
        return NULL;
    }
    peer *p = &peers[peer_count++];
    memset(p, 0, sizeof *p);
    p->pid = pid;
    p->in = in[1];
    p->out = out[0];
    snprintf(p->name, sizeof p->name, "%s %s", name[0], name[1] ? name[1] : "");
    fcntl(p->out, F_SETFL, O_NONBLOCK);
    return p;
}

/* Reads what the peer printed, waiting at most until deadline for more. */
static void peer_drain(peer *p, int64_t deadline)
{
    if (p->out < 0)
        return;
    int64_t left = deadline - now_us();
    struct pollfd pfd = {p->out, POLLIN, 0};
    if (poll(&pfd, 1, left > 0 ? (int)(left / 1000) : 0) <= 0)
        return;
    for (;;) {
        size_t room = sizeof p->log - 1 - p->log_len;
        if (room == 0) { /* keep the newest output: shift out the oldest half */
            memmove(p->log, p->log + sizeof p->log / 2, p->log_len - sizeof p->log / 2);
            p->log_len -= sizeof p->log / 2;
            p->mark = p->mark > sizeof p->log / 2 ? p->mark - sizeof p->log / 2 : 0;
            continue;
        }
        ssize_t n = read(p->out, p->log + p->log_len, room);
        if (n > 0) {
            p->log_len += (size_t)n;
            p->log[p->log_len] = '\0';
            continue;
        }
        if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            close(p->out);
            p->out = -1;
        }
        if (n == 0 || errno != EINTR)
            return;
    }
}

/* 1 once the peer's output (since peer_mark) contains text, 0 if it did
 * not within timeout. */
static int peer_saw(peer *p, const char *text, int64_t timeout_us)
{
    int64_t deadline = now_us() + timeout_us;
    for (;;) {
        if (memmem(p->log + p->mark, p->log_len - p->mark, text, strlen(text)) != NULL)
            return 1;
        if (p->out < 0 || now_us() >= deadline)
            return 0;
        peer_drain(p, deadline);
    }
}

/* From now on, peer_saw looks only at output yet to come. */
static void peer_mark(peer *p)
{
    p->mark = p->log_len;
}

static int peer_write(peer *p, const char *text)
{
    size_t len = strlen(text);
    return p->in >= 0 && write(p->in, text, len) == (ssize_t)len;
}

static void peer_close_stdin(peer *p)
{
    if (p->in >= 0)
        close(p->in);
    p->in = -1;
}

/* 1 if the peer exited within timeout (its wait status in p->status). */
static int peer_wait_exit(peer *p, int64_t timeout_us)
{
    int64_t deadline = now_us() + timeout_us;
    while (!p->reaped) {
        pid_t r = waitpid(p->pid, &p->status, WNOHANG);
        if (r == p->pid) {
            p->reaped = 1;
            break;
        }
        if (r < 0 && errno != EINTR)
            return 0;
        if (now_us() >= deadline)
            return 0;
        peer_drain(p, now_us() + 20000);
        if (p->out < 0)
            usleep(10000);
    }
    peer_drain(p, now_us());
    return 1;
}

static int peer_exited_ok(peer *p)
{
    return p->reaped && WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0;
}

static int peer_exited_failing(peer *p)
{
    return p->reaped && !(WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0);
}

/* Kills and reaps every peer of the test; shows their output if it failed
 * (always with NS_INTEROP_VERBOSE set). */
static void peers_stop(void)
{
    for (int i = 0; i < peer_count; i++) {
        peer *p = &peers[i];
        if (!p->reaped) {
            kill(p->pid, SIGKILL);
            if (!peer_wait_exit(p, 2000000))
                fprintf(stderr, "  peer %d (%s) did not die\n", (int)p->pid, p->name);
        }
        peer_close_stdin(p);
        if (p->out >= 0)
            close(p->out);
        if (ns_test_failed || getenv("NS_INTEROP_VERBOSE")) {
            size_t from = p->log_len > 3000 ? p->log_len - 3000 : 0;
            fprintf(stderr, "  --- output of %s (last %zu bytes) ---\n%s\n  ---\n", p->name,
                    p->log_len - from, p->log + from);
        }
    }
    peer_count = 0;
}

/* A test that starts peers: the body, then peers_stop whatever happened. */
#define PEER_TEST(name)                                                                    \
    static void name##_body(void);                                                         \
    static void name(void)                                                                 \
    {                                                                                      \
        name##_body();                                                                     \
        peers_stop();                                                                      \
    }                                                                                      \
    static void name##_body(void)

/* Skips the test when prog is missing, unless NS_INTEROP_REQUIRE_PEERS is
 * set (as in CI, which installs them): then that is a failure. */
#define REQUIRE_PROGRAM(prog)                                                              \
    do {                                                                                   \
        if (!have_program(prog)) {                                                         \
            if (getenv("NS_INTEROP_REQUIRE_PEERS")) {                                      \
                fprintf(stderr, "  %s is not installed\n", prog);                          \
                ns_test_failed = 1;                                                        \
                return;                                                                    \
            }                                                                              \
            SKIP("%s is not installed", prog);                                             \
        }                                                                                  \
    } while (0)

/* Starts a program: the arguments of `fixed`, then those of `extra` (both
 * NULL-terminated; extra may be NULL).  Its stdout is made line-buffered,
 * so that what it prints with stdio shows while it runs, and one line is
 * not torn apart by its raw writes of the data it received. */
static peer *peer_run(const char *const *fixed, const char *const *extra)
{
    const char *argv[48] = {"stdbuf", "-oL"};
    size_t first = have_program("stdbuf") ? 0 : 2, n = 2;
    for (; *fixed && n < 47; fixed++)
        argv[n++] = *fixed;
    for (; extra && *extra && n < 47; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    return peer_start((char *const *)argv + first, (char *const *)argv + 2);
}

/* ------------------------------------------------------------------ */
/* netsocket ends                                                      */
/* ------------------------------------------------------------------ */

/* A port nothing listens on right now (bound by netsocket, then freed). */
static const char *free_port(void)
{
    static char buf[16];
    ns_socket *s = ns_make_server_socket("127.0.0.1", "0", NULL);
    snprintf(buf, sizeof buf, "%d", s ? ns_socket_local_port(s) : 0);
    ns_socket_free(s);
    return buf;
}

/* A blocking TLS client of 127.0.0.1:port trusting our CA, with sni (NULL:
 * none), ALPN names from a NULL-terminated list, and our client certificate
 * if with_cert.  The peer may still be starting: "connection refused" is
 * retried for up to 3 s; any other failure is returned at once. */
static ns_socket *connect_peer(const char *port, const char *sni, const char *const *alpn,
                               int with_cert)
{
    ns_options *o = blocking_options(NS_TLS_SOCKET_OPTIONS, TIMEOUT_US);
    ns_options_set_connection_timeout(o, TIMEOUT_US);
    ns_options_add_trusted_certificate(o, certgen_cert_pem(ca), strlen(certgen_cert_pem(ca)));
    if (sni)
        ns_options_add_sni(o, sni);
    for (; alpn && *alpn; alpn++)
        ns_options_add_alpn(o, *alpn);
    if (with_cert) {
        const char *pem = certgen_cert_pem(client_cert);
        ns_options_add_certificate(o, pem, strlen(pem));
        pem = certgen_key_pem(client_cert);
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

/* The status of connect_peer: NS_OK (and the connection closed) or why it failed. */
static int connect_status(const char *port, const char *sni, const char *const *alpn,
                          int with_cert)
{
    ns_socket *c = connect_peer(port, sni, alpn, with_cert);
    if (c == NULL)
        return ns_last_status();
    ns_socket_free(c);
    return NS_OK;
}

/* A blocking TLS server on 127.0.0.1 with our server identity, ALPN names
 * from a NULL-terminated list, if require_cert mTLS against our CA, and the
 * counting verifier with v (NULL: none). */
static ns_socket *tls_server_verified(const char *const *alpn, int require_cert, verdict *v)
{
    ns_options *o = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, TIMEOUT_US);
    const char *pem = certgen_cert_pem(server_cert);
    ns_options_add_certificate(o, pem, strlen(pem));
    pem = certgen_key_pem(server_cert);
    ns_options_set_private_key(o, pem, strlen(pem));
    for (; alpn && *alpn; alpn++)
        ns_options_add_alpn(o, *alpn);
    if (require_cert) {
        pem = certgen_cert_pem(ca);
        ns_options_add_trusted_certificate(o, pem, strlen(pem));
        ns_options_set_client_certificate_required(o, 1);
    }
    if (v)
        ns_options_set_certificate_verifier(o, verdict_verifier, v);
    ns_socket *s = ns_make_server_tls_socket("127.0.0.1", "0", o);
    ns_options_free(o);
    return s;
}

static ns_socket *tls_server(const char *const *alpn, int require_cert)
{
    return tls_server_verified(alpn, require_cert, NULL);
}

/* Accepts one connection from a peer started just before (p NULL: none),
 * waiting at most TIMEOUT_US for it to arrive; the handshake is bounded by
 * the server's read timeout. */
static ns_socket *accept_peer(ns_socket *server, const peer *p)
{
    struct pollfd pfd = {ns_socket_fd(server), POLLIN, 0};
    if (p == NULL || poll(&pfd, 1, TIMEOUT_US / 1000) != 1) {
        fprintf(stderr, "  no connection within %d us\n", TIMEOUT_US);
        return NULL;
    }
    return ns_socket_accept(server);
}

/* Data both ways with a peer that prints what it receives and sends its stdin. */
static int exchange_via_stdio(ns_socket *s, peer *p)
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

/* Data both ways, then after each of the peer's KeyUpdate commands ("k";
 * "K" asks us to update our keys too), which it acknowledges with `ack`. */
static int exchange_around_key_updates(ns_socket *s, peer *p, const char *ack)
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

/* Data both ways, then the peer's renegotiation command, which it
 * acknowledges with `ack`: what our next recv returns (1 if a step before
 * it failed). */
static ssize_t recv_after_renegotiation_request(ns_socket *s, peer *p, const char *command,
                                                const char *ack)
{
    char buf[64];
    if (!exchange_via_stdio(s, p) || !peer_write(p, command) || !peer_saw(p, ack, TIMEOUT_US))
        return 1;
    return ns_socket_recv(s, buf, sizeof buf, 0);
}

/* Data both ways with an echo server. */
static int exchange_via_echo(ns_socket *s)
{
    return send_text(s, "echo me, please\n") && recv_text(s, "echo me, please\n");
}

/* Data both ways with a client peer, then its orderly goodbye and exit:
 * 1 if all went well.  Frees conn. */
static int serve_client_to_the_end(ns_socket *conn, peer *p)
{
    char buf[16];
    int ok = exchange_via_stdio(conn, p);
    /* At the end of its stdin the client sends close_notify and exits. */
    peer_close_stdin(p);
    ok = ok && ns_socket_recv(conn, buf, sizeof buf, 0) == 0;
    ns_socket_free(conn);
    return ok && peer_wait_exit(p, TIMEOUT_US) && peer_exited_ok(p);
}

/* The certificate the peer presented is c. */
static int peer_certificate_is(ns_socket *s, const test_cert *c)
{
    size_t len;
    const unsigned char *der = ns_socket_peer_certificate(s, &len);
    return certgen_is(c, der, len);
}

static const char *const alpn_h2_http11[] = {"h2", "http/1.1", NULL};
static const char *const alpn_http11[] = {"http/1.1", NULL};
static const char *const alpn_h2[] = {"h2", NULL};

/* ------------------------------------------------------------------ */
/* netsocket client, openssl s_server                                  */
/* ------------------------------------------------------------------ */

/* s_server on a free port of 127.0.0.1 (stored in *port) with our server
 * identity; extra arguments follow. */
static peer *start_s_server(const char *const *extra, const char **port)
{
    *port = free_port();
    char accept_arg[64];
    snprintf(accept_arg, sizeof accept_arg, "127.0.0.1:%s", *port);
    const char *argv[] = {"openssl", "s_server", "-accept", accept_arg, "-cert",
                          path("server", "crt"), "-key", path("server", "key"), NULL};
    return peer_run(argv, extra);
}

PEER_TEST(test_client_openssl_server_tls13_alpn_data)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "1", "-tls1_3", "-alpn", "http/1.1", NULL};
    peer *p = start_s_server(extra, &port);
    CHECK(p != NULL);
    ns_socket *c = connect_peer(port, "localhost", alpn_h2_http11, 0);
    CHECK(c != NULL);
    CHECK_STR(ns_socket_tls_version(c), "TLSv1.3");
    CHECK_STR(ns_socket_selected_alpn(c), "http/1.1"); /* the server's choice, not our first */
    CHECK(peer_certificate_is(c, server_cert));
    int ok = exchange_via_stdio(c, p);
    ns_socket_free(c);
    CHECK(ok);
    CHECK(peer_saw(p, "ALPN protocols advertised by the client: h2, http/1.1", TIMEOUT_US));
    CHECK(peer_wait_exit(p, TIMEOUT_US)); /* -naccept 1: done after our connection */
    CHECK(peer_exited_ok(p));
}

PEER_TEST(test_client_openssl_server_tls12_forced)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "1", "-tls1_2", NULL};
    peer *p = start_s_server(extra, &port);
    CHECK(p != NULL);
    ns_socket *c = connect_peer(port, "localhost", NULL, 0);
    CHECK(c != NULL);
    CHECK_STR(ns_socket_tls_version(c), "TLSv1.2");
    CHECK(strncmp(ns_socket_tls_cipher(c), "TLS_ECDHE_ECDSA_WITH_", 21) == 0);
    CHECK(ns_socket_selected_alpn(c) == NULL);
    int ok = exchange_via_stdio(c, p);
    ns_socket_free(c);
    CHECK(ok);
    CHECK(peer_wait_exit(p, TIMEOUT_US));
    CHECK(peer_exited_ok(p));
}

/* s_server switches to its second identity only when it sees SNI alt.test;
 * our host name check against the SNI name proves which one it served. */
PEER_TEST(test_client_openssl_server_sni_selects_certificate)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "2",  "-servername", "alt.test", "-cert2",
                           path("alt", "crt"), "-key2", path("alt", "key"), NULL};
    peer *p = start_s_server(extra, &port);
    CHECK(p != NULL);
    ns_socket *c = connect_peer(port, "alt.test", NULL, 0);
    CHECK(c != NULL);
    CHECK(peer_certificate_is(c, alt_cert));
    int ok = exchange_via_stdio(c, p);
    ns_socket_free(c);
    CHECK(ok);
    CHECK(peer_saw(p, "Hostname in TLS extension: \"alt.test\"", TIMEOUT_US));

    c = connect_peer(port, "localhost", NULL, 0);
    CHECK(c != NULL);
    CHECK(peer_certificate_is(c, server_cert));
    ns_socket_free(c);
    CHECK(peer_wait_exit(p, TIMEOUT_US));
}

PEER_TEST(test_client_openssl_server_mtls)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "2", "-Verify", "1", "-CAfile", path("ca", "crt"),
                           "-verify_return_error", NULL};
    peer *p = start_s_server(extra, &port);
    CHECK(p != NULL);
    ns_socket *c = connect_peer(port, "localhost", NULL, 1);
    CHECK(c != NULL);
    int ok = exchange_via_stdio(c, p);
    ns_socket_free(c);
    CHECK(ok);
    /* s_server verified our certificate and printed it, byte for byte. */
    CHECK(peer_saw(p, "subject=CN = netsocket interop client", TIMEOUT_US));
    CHECK(peer_saw(p, certgen_cert_pem(client_cert), 0));

    /* Without a certificate: TLS 1.3 lets the client finish first, so the
     * server's alert arrives at the first read at the latest. */
    c = connect_peer(port, "localhost", NULL, 0);
    if (c != NULL) {
        char buf[64];
        ssize_t n = ns_socket_recv(c, buf, sizeof buf, 0);
        ns_socket_free(c);
        CHECK_EQ(n, NS_ERR_TLS);
    }
    CHECK_EQ(ns_last_status(), NS_ERR_TLS);
    CHECK_ERROR_HAS("certificate");
    CHECK(peer_saw(p, "peer did not return a certificate", TIMEOUT_US));
    CHECK(peer_wait_exit(p, TIMEOUT_US));
}

PEER_TEST(test_client_refuses_openssl_server_tls11)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "1", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", NULL};
    peer *p = start_s_server(extra, &port);
    CHECK(p != NULL);
    CHECK_EQ(connect_status(port, "localhost", NULL, 0), NS_ERR_TLS);
    CHECK(peer_wait_exit(p, TIMEOUT_US));
    CHECK(peer_saw(p, "unsupported protocol", TIMEOUT_US));
}

/* s_server sends a TLS 1.3 KeyUpdate (its "k" and "K" commands, the
 * latter asking us to update too); data keeps flowing both ways. */
PEER_TEST(test_client_openssl_server_key_update)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "1", "-tls1_3", NULL};
    peer *p = start_s_server(extra, &port);
    CHECK(p != NULL);
    ns_socket *c = connect_peer(port, "localhost", NULL, 0);
    CHECK(c != NULL);
    int ok = exchange_around_key_updates(c, p, "SSL_do_handshake -> 1");
    ns_socket_free(c);
    CHECK(ok);
    CHECK(peer_wait_exit(p, TIMEOUT_US));
    CHECK(peer_exited_ok(p));
}

/* A TLS 1.2 server asking to renegotiate (s_server's "r" command): like Go's
 * crypto/tls, netsocket does not renegotiate; the connection fails with
 * NS_ERR_TLS instead of hanging or going on silently. */
PEER_TEST(test_client_openssl_server_renegotiation_refused)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "1", "-tls1_2", NULL};
    peer *p = start_s_server(extra, &port);
    CHECK(p != NULL);
    ns_socket *c = connect_peer(port, "localhost", NULL, 0);
    CHECK(c != NULL);
    ssize_t n = recv_after_renegotiation_request(c, p, "r\n", "SSL_do_handshake -> 1");
    ns_socket_free(c);
    CHECK_EQ(n, NS_ERR_TLS);
    CHECK_ERROR_HAS("RENEGOTIATION");
    CHECK(peer_saw(p, "alert no renegotiation", TIMEOUT_US));
    CHECK(peer_wait_exit(p, TIMEOUT_US));
}

/* The default non-blocking mode with a selector: 48 KiB from s_server
 * arrive in many TLS records; every one is read, none is left pending
 * unseen by the selector. */
PEER_TEST(test_client_non_blocking_selector_openssl_server)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "1", NULL};
    peer *p = start_s_server(extra, &port);
    CHECK(p != NULL);
    ns_socket *c = connect_peer(port, "localhost", NULL, 0);
    CHECK(c != NULL);
    CHECK_EQ(ns_socket_set_non_blocking(c, 1), NS_OK);
    char buf[4096];
    CHECK_EQ(ns_socket_recv(c, buf, sizeof buf, 0), NS_ERR_WOULD_BLOCK);
    /* Lines of digits: s_server takes a line starting with a letter as a command. */
    char line[64];
    memset(line, '7', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    size_t want = 0;
    for (int i = 0; i < 768; i++, want += sizeof line)
        if (write(p->in, line, sizeof line) != (ssize_t)sizeof line)
            break;
    CHECK_EQ(want, 768 * sizeof line); /* fits the pipe: the writes never block */
    ns_selector *sel = ns_selector_new();
    size_t got = 0;
    int bad = 0, waits = 0;
    int64_t deadline = now_us() + TIMEOUT_US;
    while (got < want && !bad && now_us() < deadline) {
        ns_selector_add(sel, c, TIMEOUT_US, NULL);
        if (ns_selector_wait(sel, TIMEOUT_US) != 1 || ns_selector_event_timed_out(sel, 0))
            break;
        waits++;
        ssize_t n;
        while ((n = ns_socket_recv(c, buf, sizeof buf, 0)) > 0) {
            for (ssize_t i = 0; i < n; i++)
                bad |= buf[i] != ((got + (size_t)i) % sizeof line == sizeof line - 1 ? '\n' : '7');
            got += (size_t)n;
        }
        bad |= n != NS_ERR_WOULD_BLOCK;
    }
    ns_selector_free(sel);
    ns_socket_free(c);
    CHECK(!bad);
    CHECK_EQ(got, want);
    CHECK(waits >= 1);
}

/* s_server killed mid-connection: no close_notify, so the end of the
 * stream is a truncation (NS_ERR_CLOSED), never an orderly 0.  No SNI is
 * sent for an IP literal; the certificate is checked against the IP. */
PEER_TEST(test_client_detects_truncation_when_openssl_server_dies)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "1",  "-servername", "alt.test", "-cert2",
                           path("alt", "crt"), "-key2", path("alt", "key"), NULL};
    peer *p = start_s_server(extra, &port);
    CHECK(p != NULL);
    ns_socket *c = connect_peer(port, NULL, NULL, 0);
    CHECK(c != NULL);
    CHECK(peer_certificate_is(c, server_cert));
    int ok = exchange_via_stdio(c, p);
    kill(p->pid, SIGKILL);
    char buf[64];
    ssize_t n = ok ? ns_socket_recv(c, buf, sizeof buf, 0) : 1;
    ns_socket_free(c);
    CHECK(ok);
    CHECK_EQ(n, NS_ERR_CLOSED);
    CHECK_ERROR_HAS("without close_notify");
    CHECK(!peer_saw(p, "Hostname in TLS extension", 0));
}

/* s_server accepts only P-384, for which netsocket's first ClientHello
 * carries no key share: netsocket must answer its HelloRetryRequest. */
PEER_TEST(test_client_openssl_server_hello_retry_request)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "1", "-tls1_3", "-groups", "P-384", "-trace", NULL};
    peer *p = start_s_server(extra, &port);
    CHECK(p != NULL);
    ns_socket *c = connect_peer(port, "localhost", NULL, 0);
    CHECK(c != NULL);
    CHECK_STR(ns_socket_tls_version(c), "TLSv1.3");
    int ok = exchange_via_stdio(c, p);
    ns_socket_free(c);
    CHECK(ok);
    /* -trace shows a HelloRetryRequest as a ServerHello whose key_share
     * holds just the selected group (2 bytes). */
    CHECK(peer_saw(p, "extension_type=key_share(51), length=2\n", 0));
    CHECK(peer_wait_exit(p, TIMEOUT_US));
    CHECK(peer_exited_ok(p));
}

/* ------------------------------------------------------------------ */
/* netsocket client, gnutls-serv                                       */
/* ------------------------------------------------------------------ */

/* gnutls-serv --echo on a free port (stored in *port; it listens on every
 * address, having no option to choose) with identity `cert` ("server" or
 * "alt"); extra arguments follow. */
static peer *start_gnutls_serv(const char *cert, const char *const *extra, const char **port)
{
    *port = free_port();
    const char *argv[] = {"gnutls-serv",    "--echo",          "--port",
                          *port,             "--x509certfile",  path(cert, "crt"),
                          "--x509keyfile",  path(cert, "key"), NULL};
    return peer_run(argv, extra);
}

/* gnutls-serv answers only SNI alt.test (--sni-hostname-fatal) and only ALPN
 * http/1.1 (--alpn-fatal): the right names work, wrong ones fail. */
PEER_TEST(test_client_gnutls_server_tls13_alpn_sni)
{
    REQUIRE_PROGRAM("gnutls-serv");
    const char *port;
    const char *extra[] = {"--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3", "--alpn", "http/1.1",
                           "--alpn-fatal", "--sni-hostname", "alt.test", "--sni-hostname-fatal",
                           NULL};
    peer *p = start_gnutls_serv("alt", extra, &port);
    CHECK(p != NULL);
    ns_socket *c = connect_peer(port, "alt.test", alpn_h2_http11, 0);
    CHECK(c != NULL);
    CHECK_STR(ns_socket_tls_version(c), "TLSv1.3");
    CHECK_STR(ns_socket_selected_alpn(c), "http/1.1");
    CHECK(peer_certificate_is(c, alt_cert));
    int ok = exchange_via_echo(c);
    ns_socket_free(c);
    CHECK(ok);
    CHECK(peer_saw(p, "Given server name[1]: alt.test", TIMEOUT_US));
    CHECK(peer_saw(p, "Application protocol: http/1.1", TIMEOUT_US));

    /* The wrong SNI name: gnutls-serv refuses it with an alert (had it
     * answered, our host name check would say NS_ERR_CERTIFICATE). */
    CHECK_EQ(connect_status(port, "other.test", alpn_http11, 0), NS_ERR_TLS);
    CHECK(peer_saw(p, "SNI host name not recognised", TIMEOUT_US));
    /* No ALPN name in common. */
    CHECK_EQ(connect_status(port, "alt.test", alpn_h2, 0), NS_ERR_TLS);
    CHECK(peer_saw(p, "No common application protocol", TIMEOUT_US));
}

PEER_TEST(test_client_gnutls_server_tls12_mtls)
{
    REQUIRE_PROGRAM("gnutls-serv");
    const char *port;
    const char *extra[] = {"--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.2", "--require-client-cert",
                           "--verify-client-cert", "--x509cafile", path("ca", "crt"), NULL};
    peer *p = start_gnutls_serv("server", extra, &port);
    CHECK(p != NULL);
    ns_socket *c = connect_peer(port, "localhost", NULL, 1);
    CHECK(c != NULL);
    CHECK_STR(ns_socket_tls_version(c), "TLSv1.2");
    int ok = exchange_via_echo(c);
    ns_socket_free(c);
    CHECK(ok);
    /* gnutls-serv verified our certificate and printed it, byte for byte. */
    CHECK(peer_saw(p, "Subject: CN=netsocket interop client", TIMEOUT_US));
    CHECK(peer_saw(p, certgen_cert_pem(client_cert), 0));
    CHECK(peer_saw(p, "Status: The certificate is trusted", TIMEOUT_US));

    /* Without a certificate the TLS 1.2 handshake itself fails. */
    CHECK_EQ(connect_status(port, "localhost", NULL, 0), NS_ERR_TLS);
    CHECK(peer_saw(p, "No certificate was found", TIMEOUT_US));
}

/* One MiB through gnutls-serv's echo on a non-blocking socket, sending
 * and receiving in turns (one thread may use a socket at a time): partial
 * writes, many records and flow control with a foreign stack. */
PEER_TEST(test_client_non_blocking_mebibyte_through_gnutls_echo)
{
    REQUIRE_PROGRAM("gnutls-serv");
    const char *port;
    const char *extra[] = {"--quiet", NULL};
    peer *p = start_gnutls_serv("server", extra, &port);
    CHECK(p != NULL);
    ns_socket *c = connect_peer(port, "localhost", NULL, 0);
    CHECK(c != NULL);
    CHECK_EQ(ns_socket_set_non_blocking(c, 1), NS_OK);
    enum { total = 1 << 20 };
    static unsigned char out[total], in[total];
    /* Printable lines: the echo answers each read as a C string. */
    for (size_t i = 0; i < total; i++)
        out[i] = i % 64 == 63 ? '\n' : (unsigned char)('a' + (i * 7 + i / 4096) % 26);
    size_t sent = 0, received = 0;
    ssize_t n = 0;
    int64_t deadline = now_us() + 10000000;
    while (received < total && now_us() < deadline) {
        int progress = 0;
        if (sent < total) {
            size_t len = total - sent < 65536 ? total - sent : 65536;
            if ((n = ns_socket_send(c, out + sent, len, 0)) > 0)
                sent += (size_t)n, progress = 1;
            else if (n != NS_ERR_WOULD_BLOCK)
                break;
        }
        if ((n = ns_socket_recv(c, in + received, total - received, 0)) > 0)
            received += (size_t)n, progress = 1;
        else if (n != NS_ERR_WOULD_BLOCK)
            break;
        peer_drain(p, now_us()); /* the peer must never block on its output */
        if (!progress) {
            struct pollfd pfd = {ns_socket_fd(c), POLLIN | (sent < total ? POLLOUT : 0), 0};
            poll(&pfd, 1, 100);
        }
    }
    ns_socket_free(c);
    CHECK_EQ(sent, total);
    CHECK_EQ(received, total);
    CHECK(memcmp(in, out, total) == 0);
}

/* ------------------------------------------------------------------ */
/* netsocket server, openssl s_client                                  */
/* ------------------------------------------------------------------ */

/* s_client to the server, verifying it against our CA and the name
 * localhost; extra arguments follow. */
static peer *start_s_client(ns_socket *server, const char *const *extra)
{
    char connect_arg[64];
    snprintf(connect_arg, sizeof connect_arg, "127.0.0.1:%d", ns_socket_local_port(server));
    const char *argv[] = {"openssl", "s_client", "-connect", connect_arg, "-CAfile",
                          path("ca", "crt"), "-verify_return_error", "-verify_hostname",
                          "localhost", NULL};
    return peer_run(argv, extra);
}

/* A netsocket server (see tls_server) that accepts one s_client started
 * with extra arguments, then closes; *p is the client (NULL if none started). */
static ns_socket *accept_s_client(const char *const *alpn, int require_cert,
                                  const char *const *extra, peer **p)
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

PEER_TEST(test_server_openssl_client_tls13_alpn_sni_mtls)
{
    REQUIRE_PROGRAM("openssl");
    /* The client prefers http/1.1; the server's preference, h2, wins. */
    const char *extra[] = {"-tls1_3", "-servername", "alt.test", "-alpn", "http/1.1,h2",
                           "-cert", path("client", "crt"), "-key", path("client", "key"), NULL};
    peer *p;
    ns_socket *conn = accept_s_client(alpn_h2_http11, 1, extra, &p);
    CHECK(conn != NULL);
    CHECK_STR(ns_socket_tls_version(conn), "TLSv1.3");
    CHECK_STR(ns_socket_selected_alpn(conn), "h2");
    CHECK_STR(ns_socket_server_name(conn), "alt.test");
    CHECK(peer_certificate_is(conn, client_cert));
    CHECK(serve_client_to_the_end(conn, p));
    CHECK(peer_saw(p, "Verify return code: 0 (ok)", 0));
    CHECK(peer_saw(p, certgen_cert_pem(server_cert), 0)); /* what it was served */
    CHECK(peer_saw(p, "ALPN protocol: h2", 0));
    CHECK(peer_saw(p, "New, TLSv1.3", 0));
    /* The certificate request names the trusted CA. */
    CHECK(peer_saw(p, "Acceptable client certificate CA names\nCN = netsocket interop CA\n", 0));
}

PEER_TEST(test_server_openssl_client_tls12_forced)
{
    REQUIRE_PROGRAM("openssl");
    const char *extra[] = {"-tls1_2", "-servername", "localhost", NULL};
    peer *p;
    ns_socket *conn = accept_s_client(NULL, 0, extra, &p);
    CHECK(conn != NULL);
    CHECK_STR(ns_socket_tls_version(conn), "TLSv1.2");
    CHECK(ns_socket_selected_alpn(conn) == NULL);
    CHECK_STR(ns_socket_server_name(conn), "localhost");
    CHECK(ns_socket_peer_certificate(conn, NULL) == NULL); /* none asked, none sent */
    CHECK(serve_client_to_the_end(conn, p));
    CHECK(peer_saw(p, "Verify return code: 0 (ok)", 0));
    CHECK(peer_saw(p, "New, TLSv1.2", 0));
}

PEER_TEST(test_server_requires_certificate_openssl_client_without_one)
{
    REQUIRE_PROGRAM("openssl");
    const char *extra[] = {"-tls1_3", NULL};
    peer *p;
    ns_socket *conn = accept_s_client(NULL, 1, extra, &p);
    ns_socket_free(conn);
    CHECK(p != NULL);
    CHECK(conn == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_CERTIFICATE);
    CHECK(peer_saw(p, "alert certificate required", TIMEOUT_US));
}

/* TLS 1.0 and 1.1 clients are refused, and the server then serves the next
 * client normally. */
PEER_TEST(test_server_refuses_tls10_tls11_then_serves_next)
{
    REQUIRE_PROGRAM("openssl");
    ns_socket *server = tls_server(NULL, 0);
    CHECK(server != NULL);
    static const char *const old[] = {"-tls1", "-tls1_1"};
    for (size_t i = 0; i < 2; i++) {
        const char *extra[] = {old[i], "-cipher", "DEFAULT@SECLEVEL=0", NULL};
        peer *p = start_s_client(server, extra);
        ns_socket *conn = accept_peer(server, p);
        ns_socket_free(conn);
        CHECK(conn == NULL);
        CHECK_EQ(ns_last_status(), NS_ERR_TLS);
        CHECK(peer_wait_exit(p, TIMEOUT_US));
        CHECK(peer_exited_failing(p));
        CHECK(peer_saw(p, "alert protocol version", 0));
    }
    if (have_program("gnutls-cli") || getenv("NS_INTEROP_REQUIRE_PEERS")) {
        char port[16];
        snprintf(port, sizeof port, "%d", ns_socket_local_port(server));
        const char *argv[] = {"gnutls-cli", "127.0.0.1", "--port", port, "--x509cafile",
                              path("ca", "crt"), "--priority",
                              "NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0", NULL};
        peer *p = peer_run(argv, NULL);
        ns_socket *conn = accept_peer(server, p);
        ns_socket_free(conn);
        CHECK(conn == NULL);
        CHECK_EQ(ns_last_status(), NS_ERR_TLS);
        CHECK(peer_wait_exit(p, TIMEOUT_US));
        CHECK(peer_exited_failing(p));
        CHECK(peer_saw(p, "Error in protocol version", 0));
    }
    const char *extra[] = {"-servername", "localhost", NULL};
    peer *p = start_s_client(server, extra);
    ns_socket *conn = accept_peer(server, p);
    ns_socket_free(server);
    CHECK(conn != NULL);
    CHECK_STR(ns_socket_tls_version(conn), "TLSv1.3");
    CHECK(serve_client_to_the_end(conn, p));
    CHECK(peer_saw(p, "Verify return code: 0 (ok)", 0));
}

/* A TLS 1.2 client asking to renegotiate (s_client's "R" command) is
 * refused, as renegotiation is a known way to make a server burn CPU. */
PEER_TEST(test_server_refuses_openssl_client_renegotiation)
{
    REQUIRE_PROGRAM("openssl");
    const char *extra[] = {"-tls1_2", NULL};
    peer *p;
    ns_socket *conn = accept_s_client(NULL, 0, extra, &p);
    CHECK(conn != NULL);
    ssize_t n = recv_after_renegotiation_request(conn, p, "R\n", "RENEGOTIATING");
    ns_socket_free(conn);
    CHECK_EQ(n, NS_ERR_TLS);
    CHECK_ERROR_HAS("RENEGOTIATION");
    CHECK(peer_saw(p, "alert no renegotiation", TIMEOUT_US));
    CHECK(peer_wait_exit(p, TIMEOUT_US));
}

/* Serves one s_client started with extra arguments to the end: 1 if all
 * went well and it printed `outcome` (e.g. "Reused, TLSv1.3"). */
static int serve_s_client_expecting(ns_socket *server, const char *const *extra,
                                    const char *outcome)
{
    peer *p = start_s_client(server, extra);
    ns_socket *conn = accept_peer(server, p);
    return conn != NULL && serve_client_to_the_end(conn, p) && peer_saw(p, outcome, 0);
}

/* A second s_client resumes the session of the first (-sess_out, -sess_in)
 * with the ticket netsocket's server issued.  (Not -reconnect: it does not
 * wait for TLS 1.3 tickets, not even from s_server.) */
static void check_resumption(const char *version_flag, const char *version)
{
    ns_socket *server = tls_server(NULL, 0);
    CHECK(server != NULL);
    const char *first[] = {version_flag, "-sess_out", path("session", "pem"), NULL};
    const char *second[] = {version_flag, "-sess_in", path("session", "pem"), NULL};
    char new_session[32], reused_session[32];
    snprintf(new_session, sizeof new_session, "New, %s", version);
    snprintf(reused_session, sizeof reused_session, "Reused, %s", version);
    int ok = serve_s_client_expecting(server, first, new_session) &&
             serve_s_client_expecting(server, second, reused_session);
    ns_socket_free(server);
    CHECK(ok);
}

PEER_TEST(test_server_openssl_client_resumes_tls13)
{
    REQUIRE_PROGRAM("openssl");
    check_resumption("-tls1_3", "TLSv1.3");
}

PEER_TEST(test_server_openssl_client_resumes_tls12)
{
    REQUIRE_PROGRAM("openssl");
    check_resumption("-tls1_2", "TLSv1.2");
}

/* s_client resuming with -sess_in is verified again: the server's verifier
 * runs over the session's client chain (2 calls, exactly), and when it says
 * no, the resumed connection is refused (the first call, at depth 1). */
static void check_verifier_on_resumption(const char *version_flag, const char *version)
{
    verdict v = {.accept = 1};
    ns_socket *server = tls_server_verified(NULL, 1, &v);
    CHECK(server != NULL);
    const char *first[] = {version_flag, "-cert", path("client", "crt"), "-key",
                           path("client", "key"), "-sess_out", path("session", "pem"), NULL};
    const char *again[] = {version_flag, "-sess_in", path("session", "pem"), NULL};
    char new_session[32], reused_session[32];
    snprintf(new_session, sizeof new_session, "New, %s", version);
    snprintf(reused_session, sizeof reused_session, "Reused, %s", version);
    int ok = serve_s_client_expecting(server, first, new_session);
    int calls_full = v.calls;
    ok = ok && serve_s_client_expecting(server, again, reused_session);
    int calls_resumed = v.calls - calls_full;
    v.accept = 0;
    peer *p = ok ? start_s_client(server, again) : NULL;
    ns_socket *conn = p ? accept_peer(server, p) : NULL;
    int status = ns_last_status();
    char message[256];
    snprintf(message, sizeof message, "%s", ns_last_error());
    ns_socket_free(conn);
    ns_socket_free(server);
    CHECK(ok);
    CHECK_EQ(calls_full, 2);
    CHECK_EQ(calls_resumed, 2);
    CHECK(conn == NULL);
    CHECK_EQ(status, NS_ERR_CERTIFICATE);
    CHECK_EQ(v.calls, 5);
    const char *cause = strstr(message, ": the certificate verifier");
    CHECK(strncmp(message, "TLS handshake with 127.0.0.1:", 29) == 0 && cause != NULL);
    CHECK_STR(cause, ": the certificate verifier rejected the certificate at depth 1 "
                     "(application verification failure)");
    CHECK(peer_saw(p, "alert bad certificate", TIMEOUT_US));
}

PEER_TEST(test_server_verifier_runs_on_openssl_client_resumption_tls13)
{
    REQUIRE_PROGRAM("openssl");
    check_verifier_on_resumption("-tls1_3", "TLSv1.3");
}

PEER_TEST(test_server_verifier_runs_on_openssl_client_resumption_tls12)
{
    REQUIRE_PROGRAM("openssl");
    check_verifier_on_resumption("-tls1_2", "TLSv1.2");
}

/* A netsocket client resumes TLS 1.2 sessions from one options object, more
 * than once (TLS 1.2 sessions are not single-use), with the verifier run on
 * each resumed connection. */
PEER_TEST(test_client_resumes_tls12_with_openssl_server)
{
    REQUIRE_PROGRAM("openssl");
    const char *port;
    const char *extra[] = {"-naccept", "3", "-tls1_2", "-no_ticket", NULL};
    peer *p = start_s_server(extra, &port);
    CHECK(p != NULL);
    ns_options *o = blocking_options(NS_TLS_SOCKET_OPTIONS, TIMEOUT_US);
    ns_options_add_trusted_certificate(o, certgen_cert_pem(ca), strlen(certgen_cert_pem(ca)));
    verdict v = {.accept = 1};
    ns_options_set_certificate_verifier(o, verdict_verifier, &v);
    int reused[3] = {-1, -1, -1};
    int64_t deadline = now_us() + 3000000;
    for (int i = 0; i < 3; i++) {
        ns_socket *c = ns_make_client_tls_socket("127.0.0.1", port, o);
        while (c == NULL && ns_last_status() == NS_ERR_CONNECT && now_us() < deadline) {
            usleep(20000); /* s_server may still be starting */
            c = ns_make_client_tls_socket("127.0.0.1", port, o);
        }
        if (c == NULL)
            break;
        reused[i] = ns_socket_session_reused(c);
        ns_socket_free(c);
    }
    ns_options_free(o);
    CHECK_EQ(reused[0], 0);
    CHECK_EQ(reused[1], 1);
    CHECK_EQ(reused[2], 1);
    CHECK_EQ(v.calls, 6);
    CHECK(peer_wait_exit(p, TIMEOUT_US));
}

/* A server with ALPN names: a client offering none of them fails with
 * no_application_protocol; a client offering no ALPN at all is served
 * without it. */
PEER_TEST(test_server_alpn_without_overlap_or_offer)
{
    REQUIRE_PROGRAM("openssl");
    ns_socket *server = tls_server(alpn_h2_http11, 0);
    CHECK(server != NULL);
    const char *extra[] = {"-alpn", "h3,spdy/3", NULL};
    peer *p = start_s_client(server, extra);
    ns_socket *conn = accept_peer(server, p);
    int status = ns_last_status();
    ns_socket_free(conn);
    CHECK(conn == NULL);
    CHECK_EQ(status, NS_ERR_TLS);
    CHECK(peer_wait_exit(p, TIMEOUT_US));
    CHECK(peer_saw(p, "alert no application protocol", 0));

    const char *plain[] = {"-servername", "localhost", NULL};
    int ok = serve_s_client_expecting(server, plain, "No ALPN negotiated");
    ns_socket_free(server);
    CHECK(ok);
}

/* s_client sends TLS 1.3 KeyUpdates; data keeps flowing both ways. */
PEER_TEST(test_server_openssl_client_key_update)
{
    REQUIRE_PROGRAM("openssl");
    const char *extra[] = {"-tls1_3", NULL};
    peer *p;
    ns_socket *conn = accept_s_client(NULL, 0, extra, &p);
    CHECK(conn != NULL);
    CHECK(ns_socket_server_name(conn) == NULL); /* no SNI for an IP literal */
    int ok = exchange_around_key_updates(conn, p, "KEYUPDATE");
    if (!ok)
        ns_socket_free(conn);
    CHECK(ok);
    CHECK(serve_client_to_the_end(conn, p));
}

/* The client's only key share is for P-521, which netsocket does not
 * offer: it must ask again for P-256 with a HelloRetryRequest. */
PEER_TEST(test_server_openssl_client_hello_retry_request)
{
    REQUIRE_PROGRAM("openssl");
    const char *extra[] = {"-tls1_3", "-groups", "P-521:P-256", "-trace", NULL};
    peer *p;
    ns_socket *conn = accept_s_client(NULL, 0, extra, &p);
    CHECK(conn != NULL);
    CHECK_STR(ns_socket_tls_version(conn), "TLSv1.3");
    CHECK(serve_client_to_the_end(conn, p));
    /* -trace shows a HelloRetryRequest as a ServerHello whose key_share
     * holds just the selected group (2 bytes). */
    CHECK(peer_saw(p, "extension_type=key_share(51), length=2\n", 0));
    CHECK(peer_saw(p, "Server Temp Key: ECDH, prime256v1", 0));
}

/* ------------------------------------------------------------------ */
/* netsocket server, gnutls-cli                                        */
/* ------------------------------------------------------------------ */

/* gnutls-cli with only the versions of `priority`, verifying the server
 * against our CA and the name localhost, sending SNI alt.test, ALPN
 * http/1.1 and our client certificate; the server must see all of it. */
static void check_gnutls_client(const char *priority, const char *version)
{
    ns_socket *server = tls_server(alpn_h2_http11, 1);
    CHECK(server != NULL);
    char port[16];
    snprintf(port, sizeof port, "%d", ns_socket_local_port(server));
    const char *argv[] = {"gnutls-cli", "127.0.0.1", "--port", port, "--x509cafile",
                          path("ca", "crt"), "--verify-hostname", "localhost", "--sni-hostname",
                          "alt.test", "--alpn", "http/1.1", "--x509certfile",
                          path("client", "crt"), "--x509keyfile", path("client", "key"),
                          "--priority", priority, NULL};
    peer *p = peer_run(argv, NULL);
    ns_socket *conn = accept_peer(server, p);
    ns_socket_free(server);
    CHECK(conn != NULL);
    CHECK_STR(ns_socket_tls_version(conn), version);
    CHECK_STR(ns_socket_selected_alpn(conn), "http/1.1");
    CHECK_STR(ns_socket_server_name(conn), "alt.test");
    CHECK(peer_certificate_is(conn, client_cert));
    CHECK(serve_client_to_the_end(conn, p));
    CHECK(peer_saw(p, "The certificate is trusted", 0));
    CHECK(peer_saw(p, "Application protocol: http/1.1", 0));
}

PEER_TEST(test_server_gnutls_client_tls13_alpn_sni_mtls)
{
    REQUIRE_PROGRAM("gnutls-cli");
    check_gnutls_client("NORMAL:-VERS-ALL:+VERS-TLS1.3", "TLSv1.3");
}

PEER_TEST(test_server_gnutls_client_tls12_alpn_sni_mtls)
{
    REQUIRE_PROGRAM("gnutls-cli");
    check_gnutls_client("NORMAL:-VERS-ALL:+VERS-TLS1.2", "TLSv1.2");
}

static const ns_test tests[] = {
    TEST(test_client_openssl_server_tls13_alpn_data),
    TEST(test_client_openssl_server_tls12_forced),
    TEST(test_client_openssl_server_sni_selects_certificate),
    TEST(test_client_openssl_server_mtls),
    TEST(test_client_refuses_openssl_server_tls11),
    TEST(test_client_openssl_server_key_update),
    TEST(test_client_openssl_server_renegotiation_refused),
    TEST(test_client_non_blocking_selector_openssl_server),
    TEST(test_client_openssl_server_hello_retry_request),
    TEST(test_client_detects_truncation_when_openssl_server_dies),
    TEST(test_client_gnutls_server_tls13_alpn_sni),
    TEST(test_client_gnutls_server_tls12_mtls),
    TEST(test_client_non_blocking_mebibyte_through_gnutls_echo),
    TEST(test_server_openssl_client_tls13_alpn_sni_mtls),
    TEST(test_server_openssl_client_tls12_forced),
    TEST(test_server_requires_certificate_openssl_client_without_one),
    TEST(test_server_refuses_tls10_tls11_then_serves_next),
    TEST(test_server_alpn_without_overlap_or_offer),
    TEST(test_server_refuses_openssl_client_renegotiation),
    TEST(test_server_openssl_client_resumes_tls13),
    TEST(test_server_openssl_client_resumes_tls12),
    TEST(test_server_verifier_runs_on_openssl_client_resumption_tls13),
    TEST(test_server_verifier_runs_on_openssl_client_resumption_tls12),
    TEST(test_client_resumes_tls12_with_openssl_server),
    TEST(test_server_openssl_client_key_update),
    TEST(test_server_openssl_client_hello_retry_request),
    TEST(test_server_gnutls_client_tls13_alpn_sni_mtls),
    TEST(test_server_gnutls_client_tls12_alpn_sni_mtls),
};

int main(int argc, char **argv)
{
    /* A peer that dies while we write to it must fail a check, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    if (make_certificates() != 0) {
        fprintf(stderr, "cannot write the test certificates into %s\n", dir);
        return 1;
    }
    int rc = ns_test_main(tests, sizeof tests / sizeof tests[0], argc, argv);
    remove_certificates();
    return rc;
}
