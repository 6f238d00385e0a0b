/* Item 5: resident bytes per idle established TLS 1.3 connection on the
 * server side, over 5,000 connections (--quick: 50).  Each server runs in
 * its own fresh process; its clients (raw BoringSSL, one shared context)
 * run in a child process so that only the server's memory is counted.
 * The server accepts one connection first (so lazily made state exists),
 * then reads its resident set size before and after accepting the rest;
 * heap bytes in use (mallinfo2) are shown beside it.  The baseline is a
 * raw BoringSSL server (SSL_new + SSL_set_fd + SSL_accept) in the same
 * conditions. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "benchlib.h"
#include "netsocket.h"

static bench_certs certs;

typedef struct {
    double rss_per_conn, heap_per_conn;
} result;

static X509 *pem_cert(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    return x;
}

/* The client process: n connections, held open until `hold` is closed. */
static void run_clients(int port, int n, int hold)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    X509 *ca = pem_cert(certs.ca_pem);
    if (ctx == NULL || ca == NULL || !X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca))
        _exit(3);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    for (int i = 0; i < n; i++) {
        int fd = bench_connect(port);
        SSL *ssl = SSL_new(ctx);
        if (ssl == NULL || !SSL_set_fd(ssl, fd) || !SSL_set_tlsext_host_name(ssl, "localhost") ||
            SSL_connect(ssl) != 1) {
            fprintf(stderr, "bench_memory: client %d failed\n", i);
            _exit(4);
        }
    }
    char c;
    while (read(hold, &c, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
}

/* One server side accept: a handle to keep, or NULL. */
typedef void *(*accept_fn)(void *server);

static void *ns_accept(void *server) { return ns_socket_accept(server); }

typedef struct {
    int lfd;
    SSL_CTX *ctx;
} raw_server;

static void *raw_accept_ssl(void *p)
{
    raw_server *rs = p;
    int fd = bench_accept(rs->lfd);
    SSL *ssl = SSL_new(rs->ctx);
    if (ssl == NULL || !SSL_set_fd(ssl, fd) || SSL_accept(ssl) != 1)
        return NULL;
    return ssl;
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* Runs in the measuring process; writes a result to `out`. */
static void measure(int netsocket, int n, int out)
{
    void *server;
    int port;
    raw_server rs;
    accept_fn accept_one;
    if (netsocket) {
        ns_options *so = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
        ns_options_set_non_blocking(so, 0);
        ns_options_add_certificate(so, certs.leaf_pem, strlen(certs.leaf_pem));
        ns_options_set_private_key(so, certs.key_pem, strlen(certs.key_pem));
        ns_socket *s = ns_make_server_tls_socket("127.0.0.1", "0", so);
        ns_options_free(so);
        if (s == NULL) {
            fprintf(stderr, "bench_memory: %s\n", ns_last_error());
            _exit(5);
        }
        port = ns_socket_local_port(s);
        server = s;
        accept_one = ns_accept;
    } else {
        rs.lfd = bench_listen(&port);
        rs.ctx = SSL_CTX_new(TLS_method());
        BIO *b = BIO_new_mem_buf(certs.key_pem, -1);
        EVP_PKEY *key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        BIO_free(b);
        if (!SSL_CTX_use_certificate(rs.ctx, pem_cert(certs.leaf_pem)) ||
            !SSL_CTX_use_PrivateKey(rs.ctx, key))
            _exit(6);
        server = &rs;
        accept_one = raw_accept_ssl;
    }
    int hold[2];
    if (pipe(hold) != 0)
        bench_die("pipe");
    pid_t client = fork();
    if (client == 0) {
        close(hold[1]);
        run_clients(port, n + 1, hold[0]);
    }
    close(hold[0]);
    void **conns = calloc((size_t)n + 1, sizeof *conns);
    if ((conns[0] = accept_one(server)) == NULL)
        _exit(7);
    size_t rss0 = bench_rss(), heap0 = heap_in_use();
    for (int i = 1; i <= n; i++)
        if ((conns[i] = accept_one(server)) == NULL) {
            fprintf(stderr, "bench_memory: accept %d failed\n", i);
            _exit(8);
        }
    size_t rss1 = bench_rss(), heap1 = heap_in_use();
    result r = {(double)(rss1 - rss0) / n, (double)(heap1 - heap0) / n};
    close(hold[1]);
    waitpid(client, NULL, 0);
    if (write(out, &r, sizeof r) != (ssize_t)sizeof r)
        _exit(9);
    _exit(0);
}

static result run(int netsocket, int n)
{
    int p[2];
    if (pipe(p) != 0)
        bench_die("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        measure(netsocket, n, p[1]);
    }
    close(p[1]);
    result r;
    int status = 0;
    ssize_t got = read(p[0], &r, sizeof r);
    waitpid(pid, &status, 0);
    close(p[0]);
    if (got != (ssize_t)sizeof r || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_memory: the %s server failed (status %d)\n",
                netsocket ? "netsocket" : "raw", status);
        exit(1);
    }
    return r;
}

int main(int argc, char **argv)
{
    bench_args args;
    bench_parse_args(argc, argv, &args);
    long nofile = bench_raise_nofile();
    int n = args.quick ? 50 : 5000;
    if (nofile < n + 64) {
        fprintf(stderr, "bench_memory: RLIMIT_NOFILE %ld is too low for %d connections\n", nofile,
                n);
        return 1;
    }
    bench_make_certs(&certs);
    result ns = run(1, n), raw = run(0, n);
    bench_header(&args);
    char fig[96], a[32], b[32], ratio[32], target[48];
    snprintf(fig, sizeof fig, "RSS per idle TLS conn (server), %d conns", n);
    snprintf(a, sizeof a, "%.0f B", ns.rss_per_conn);
    snprintf(b, sizeof b, "%.0f B", raw.rss_per_conn);
    snprintf(ratio, sizeof ratio, "%.3f", raw.rss_per_conn > 0 ? ns.rss_per_conn / raw.rss_per_conn : 0);
    snprintf(target, sizeof target, "netsocket <= 16384 B %s",
             ns.rss_per_conn <= 16384 ? "met" : "**missed**");
    bench_row_text("5 memory (C)", fig, a, b, ratio, target);
    snprintf(fig, sizeof fig, "heap in use per idle TLS conn (server), %d conns", n);
    snprintf(a, sizeof a, "%.0f B", ns.heap_per_conn);
    snprintf(b, sizeof b, "%.0f B", raw.heap_per_conn);
    snprintf(ratio, sizeof ratio, "%.3f", raw.heap_per_conn > 0 ? ns.heap_per_conn / raw.heap_per_conn : 0);
    bench_row_text("5 memory (C)", fig, a, b, ratio, "(for reference)");
    bench_free_certs(&certs);
    return 0;
}
