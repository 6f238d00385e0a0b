/* Issue 15: reconnecting.  A client reconnecting with one options object
 * (TLS 1.3 tickets, resumed) vs the same client with session-resumption?
 * off (full handshakes); a client trusting the system store vs one CA (the
 * store is built once per options object); heap per idle client
 * connection.  Each connection: connect, one 64-byte round trip (which
 * also brings the tickets), close. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "benchlib.h"
#include "netsocket.h"

static bench_certs certs;
static ns_socket *server;
static char port[16];

static void nodelay(ns_socket *s)
{
    int one = 1;
    ns_socket_setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Echoes 64 bytes on each connection, until a connection sends nothing. */
static void *serve(void *unused)
{
    (void)unused;
    for (;;) {
        ns_socket *c = ns_socket_accept(server);
        if (c == NULL)
            continue;
        nodelay(c);
        char buf[64];
        ssize_t n = ns_socket_recv(c, buf, sizeof buf, MSG_WAITALL);
        if (n == (ssize_t)sizeof buf)
            ns_socket_send_all(c, buf, sizeof buf, 0);
        ns_socket_free(c);
        if (n == 0)
            return NULL;
    }
}

typedef struct {
    ns_options *o;
    int count;
    int resumed, total; /* connections resumed and made, over all runs */
} job;

static ns_socket *visit(ns_options *o)
{
    char buf[64] = {0};
    ns_socket *c = ns_make_client_tls_socket("127.0.0.1", port, o);
    if (c != NULL)
        nodelay(c);
    if (c == NULL || ns_socket_send_all(c, buf, sizeof buf, 0) != (ssize_t)sizeof buf ||
        ns_socket_recv(c, buf, sizeof buf, MSG_WAITALL) != (ssize_t)sizeof buf) {
        fprintf(stderr, "bench_resume: %s\n", ns_last_error());
        exit(1);
    }
    return c;
}

static void reconnect(job *j)
{
    for (int i = 0; i < j->count; i++) {
        ns_socket *c = visit(j->o);
        j->resumed += ns_socket_session_reused(c);
        j->total++;
        ns_socket_free(c);
    }
}

/* Connections per second of wall-clock time. */
static double reconnects(void *arg)
{
    double t0 = bench_now();
    reconnect(arg);
    return ((job *)arg)->count / (bench_now() - t0);
}

/* Connections per second of this process's CPU time: client and server
 * together, and far less swayed by the other work on the machine. */
static double reconnects_cpu(void *arg)
{
    double t0 = bench_cpu_now();
    reconnect(arg);
    return ((job *)arg)->count / (bench_cpu_now() - t0);
}

/* The variants must be what their rows say: all resumed, or none. */
static void check_resumed(const job *j, int all)
{
    if (j->resumed != (all ? j->total : 0)) {
        fprintf(stderr, "bench_resume: %d of %d connections resumed, expected %s\n", j->resumed,
                j->total, all ? "all" : "none");
        exit(1);
    }
}

static int accept_any(void *u, int depth, int err, const unsigned char *der, size_t len)
{
    (void)u, (void)depth, (void)err, (void)der, (void)len;
    return 1; /* the test CA is not in the system store: measure the lookups */
}

static ns_options *client(int resume, int system_store)
{
    ns_options *o = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    ns_options_set_non_blocking(o, 0);
    ns_options_set_session_resumption(o, resume);
    if (system_store)
        ns_options_set_certificate_verifier(o, accept_any, NULL);
    else
        ns_options_add_trusted_certificate(o, certs.ca_pem, strlen(certs.ca_pem));
    ns_options_add_sni(o, "localhost");
    return o;
}

int main(int argc, char **argv)
{
    bench_args args;
    bench_parse_args(argc, argv, &args);
    bench_make_certs(&certs);
    ns_options *so = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    ns_options_set_non_blocking(so, 0);
    if (ns_options_add_certificate(so, certs.leaf_pem, strlen(certs.leaf_pem)) != NS_OK ||
        ns_options_set_private_key(so, certs.key_pem, strlen(certs.key_pem)) != NS_OK ||
        (server = ns_make_server_tls_socket("127.0.0.1", "0", so)) == NULL) {
        fprintf(stderr, "bench_resume server: %s\n", ns_last_error());
        return 1;
    }
    ns_options_free(so);
    snprintf(port, sizeof port, "%d", ns_socket_local_port(server));
    pthread_t t = bench_spawn(serve, NULL);
    bench_header(&args);
    int conns = args.quick ? 20 : 400;
    double n, b, ratio;

    ns_options *resumed = client(1, 0), *full = client(0, 0), *system = client(0, 1);
    ns_socket_free(visit(resumed)); /* the first ticket */
    ns_socket *probe = visit(resumed);
    if (!ns_socket_session_reused(probe)) {
        fprintf(stderr, "bench_resume: the session was not resumed\n");
        return 1;
    }
    ns_socket_free(probe);
    job jr = {resumed, conns}, jf = {full, conns}, js = {system, conns};
    ratio = bench_alternate(args.runs, reconnects, &jr, reconnects, &jf, &n, &b);
    bench_row("15 reconnect (C)", "resumed vs full handshakes, one options object", "/s", n, b,
              ratio, 1, 2.0);
    ratio = bench_alternate(args.runs, reconnects_cpu, &jr, reconnects_cpu, &jf, &n, &b);
    bench_row("15 reconnect (C)", "the same per CPU second (client + server process CPU time)",
              "/s", n, b, ratio, 1, 2.0);
    check_resumed(&jr, 1);
    check_resumed(&jf, 0);
    ratio = bench_alternate(args.runs, reconnects, &js, reconnects, &jf, &n, &b);
    bench_row("15 reconnect (C)", "full handshakes: system store vs one CA", "/s", n, b, ratio, 1,
              0.95);

    /* Heap per idle client connection (client side only: the server
     * closes each connection after its round trip, the client keeps it). */
    int idle = args.quick ? 20 : 200;
    ns_socket **keep = calloc((size_t)idle, sizeof *keep);
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < idle; i++)
        keep[i] = visit(resumed);
    struct mallinfo2 after = mallinfo2();
    char per[32], fig[96];
    snprintf(per, sizeof per, "%.1f KiB", (double)(after.uordblks - before.uordblks) / idle / 1024);
    snprintf(fig, sizeof fig, "heap per idle TLS client connection, %d conns", idle);
    bench_row_text("15 memory (C)", fig, per, "-", "-", "<= 16 KiB");
    for (int i = 0; i < idle; i++)
        ns_socket_free(keep[i]);
    free(keep);

    /* A connection that sends nothing ends the server thread. */
    ns_socket_free(ns_make_client_tls_socket("127.0.0.1", port, full));
    pthread_join(t, NULL);
    ns_options_free(resumed);
    ns_options_free(full);
    ns_options_free(system);
    ns_socket_free(server);
    bench_free_certs(&certs);
    return 0;
}
