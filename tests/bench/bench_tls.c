/* Item 2: TLS 1.3 over loopback, netsocket vs a raw BoringSSL
 * SSL_read/SSL_write loop on blocking descriptors, built from the same
 * BoringSSL (linked statically here; netsocket carries its own hidden copy).
 * Both sides of both variants do the same work: an ECDSA P-256 server
 * certificate verified against a CA with a host-name check, SNI, X25519,
 * close_notify on close, TCP_NODELAY. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "benchlib.h"
#include "netsocket.h"
#include "stream.h"

static bench_certs certs;

/* ---- netsocket ---- */

static void ns_setup(bench_variant *v, bench_ns_state *st)
{
    ns_options *so = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    ns_options_set_non_blocking(so, 0);
    if (ns_options_add_certificate(so, certs.leaf_pem, strlen(certs.leaf_pem)) != NS_OK ||
        ns_options_set_private_key(so, certs.key_pem, strlen(certs.key_pem)) != NS_OK ||
        (st->server = ns_make_server_tls_socket("127.0.0.1", "0", so)) == NULL) {
        fprintf(stderr, "netsocket TLS server: %s\n", ns_last_error());
        exit(1);
    }
    ns_options_free(so);
    st->client_opts = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    ns_options_set_non_blocking(st->client_opts, 0);
    ns_options_add_trusted_certificate(st->client_opts, certs.ca_pem, strlen(certs.ca_pem));
    ns_options_add_sni(st->client_opts, "localhost"); /* checked against the certificate */
    st->tls = 1;
    bench_ns_variant(v, st, "netsocket TLS");
}

/* ---- raw BoringSSL ---- */

typedef struct {
    int lfd, port;
    SSL_CTX *server_ctx, *client_ctx;
} raw_state;

static void ssl_die(const char *what)
{
    fprintf(stderr, "bench: %s: ", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static void *raw_accept(bench_variant *v)
{
    raw_state *st = v->state;
    int fd = bench_accept(st->lfd);
    SSL *ssl = SSL_new(st->server_ctx);
    if (ssl == NULL || !SSL_set_fd(ssl, fd) || SSL_accept(ssl) != 1) {
        fprintf(stderr, "raw accept failed\n");
        return NULL;
    }
    return ssl;
}

static void *raw_connect(bench_variant *v)
{
    raw_state *st = v->state;
    int fd = bench_connect(st->port);
    SSL *ssl = SSL_new(st->client_ctx);
    if (ssl == NULL || !SSL_set_fd(ssl, fd) || !SSL_set_tlsext_host_name(ssl, "localhost") ||
        !X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl), "localhost", strlen("localhost")) ||
        SSL_connect(ssl) != 1) {
        fprintf(stderr, "raw connect failed\n");
        return NULL;
    }
    if (SSL_version(ssl) != TLS1_3_VERSION || SSL_get_curve_id(ssl) != SSL_CURVE_X25519) {
        fprintf(stderr, "raw connect: not TLS 1.3 with X25519\n");
        return NULL;
    }
    return ssl;
}

static int raw_send_all(void *c, const void *buf, size_t len)
{
    /* Without partial writes, one SSL_write sends everything or fails. */
    return SSL_write(c, buf, (int)len) == (int)len ? 0 : -1;
}

static ssize_t raw_recv(void *c, void *buf, size_t len)
{
    int n = SSL_read(c, buf, (int)len);
    return n > 0 ? n : (SSL_get_error(c, n) == SSL_ERROR_ZERO_RETURN ? 0 : -1);
}

static void raw_close(void *c)
{
    SSL *ssl = c;
    SSL_shutdown(ssl);
    close(SSL_get_fd(ssl));
    SSL_free(ssl);
}

static void raw_setup(bench_variant *v, raw_state *st)
{
    st->lfd = bench_listen(&st->port);
    st->server_ctx = SSL_CTX_new(TLS_method());
    st->client_ctx = SSL_CTX_new(TLS_method());
    BIO *b = BIO_new_mem_buf(certs.leaf_pem, -1);
    X509 *leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    b = BIO_new_mem_buf(certs.key_pem, -1);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    b = BIO_new_mem_buf(certs.ca_pem, -1);
    X509 *ca = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    if (!st->server_ctx || !st->client_ctx || !leaf || !key || !ca ||
        !SSL_CTX_use_certificate(st->server_ctx, leaf) ||
        !SSL_CTX_use_PrivateKey(st->server_ctx, key) ||
        !X509_STORE_add_cert(SSL_CTX_get_cert_store(st->client_ctx), ca))
        ssl_die("raw BoringSSL setup");
    SSL_CTX_set_min_proto_version(st->server_ctx, TLS1_2_VERSION);
    SSL_CTX_set_min_proto_version(st->client_ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(st->client_ctx, SSL_VERIFY_PEER, NULL);
    X509_free(leaf);
    X509_free(ca);
    EVP_PKEY_free(key);
    *v = (bench_variant){"raw BoringSSL", raw_accept, raw_connect, raw_send_all, raw_recv, raw_close, st};
}

static void *accept_one(void *p)
{
    bench_variant *v = p;
    return v->accept(v);
}

/* The figures are only meaningful for TLS 1.3: check that it is negotiated. */
static void check_netsocket_tls13(bench_variant *nv)
{
    pthread_t t = bench_spawn(accept_one, nv);
    ns_socket *s = nv->connect(nv), *a = NULL;
    pthread_join(t, (void **)&a);
    const char *version = s ? ns_socket_tls_version(s) : NULL;
    if (s == NULL || a == NULL || version == NULL || strcmp(version, "TLSv1.3") != 0) {
        fprintf(stderr, "netsocket: no TLS 1.3 connection (%s)\n", ns_last_error());
        exit(1);
    }
    ns_socket_free(s);
    ns_socket_free(a);
}

int main(int argc, char **argv)
{
    bench_args args;
    bench_parse_args(argc, argv, &args);
    bench_make_certs(&certs);
    bench_ns_state nst;
    raw_state rst;
    bench_variant nv, rv;
    ns_setup(&nv, &nst);
    raw_setup(&rv, &rst);
    check_netsocket_tls13(&nv);

    bench_header(&args);
    size_t total = args.quick ? (size_t)4 << 20 : (size_t)256 << 20;
    bench_job nb = {&nv, total, 64 * 1024, 0}, rb = {&rv, total, 64 * 1024, 0};
    double n, r, ratio;
    ratio = bench_alternate(args.runs, bench_bulk, &nb, bench_bulk, &rb, &n, &r);
    bench_row("2 TLS 1.3 (C)", "bulk, 64 KiB writes", "MB/s", n, r, ratio, 1, 0.95);

    int trips = args.quick ? 200 : 15000;
    bench_job nr = {&nv, 0, 64, trips}, rr = {&rv, 0, 64, trips};
    ratio = bench_alternate(args.runs, bench_rtt, &nr, bench_rtt, &rr, &n, &r);
    bench_row("2 TLS 1.3 (C)", "64 B round trips", "/s", n, r, ratio, 1, 0.95);

    int conns = args.quick ? 20 : 500;
    bench_job nh = {&nv, 0, 0, conns}, rh = {&rv, 0, 0, conns};
    ratio = bench_alternate(args.runs, bench_handshakes, &nh, bench_handshakes, &rh, &n, &r);
    bench_row("2 TLS 1.3 (C)", "full handshakes (P-256, X25519)", "/s", n, r, ratio, 1, 0.95);

    ns_socket_free(nst.server);
    ns_options_free(nst.client_opts);
    SSL_CTX_free(rst.server_ctx);
    SSL_CTX_free(rst.client_ctx);
    close(rst.lfd);
    bench_free_certs(&certs);
    return 0;
}
