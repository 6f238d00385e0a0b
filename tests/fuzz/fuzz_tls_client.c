/* Fuzz target: a netsocket TLS client whose server sends the input (then
 * EOF).  The handshake must fail cleanly (or succeed); never crash, hang
 * or leak. */
#include "fuzz_common.h"
#include "fuzz_record.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>

static int listener = -1, port;
static ns_options *options;

static void options_free(void) { ns_options_free(options); }

/* NS_FUZZ_RECORD=file: writes what a TLS 1.2 server with the fuzz leaf
 * sends in a whole exchange (its flight, "hello", close_notify) as a seed,
 * and exits.  TLS 1.2, and BoringSSL itself as the server (netsocket
 * offers no version cap): a TLS 1.3 client checks that the server echoes
 * its random legacy session ID, which differs from run to run, while a
 * TLS 1.2 client checks nothing random that fuzzer mode does not skip. */
static void *serve_tls12_hello(void *arg)
{
    int listener = *(int *)arg, fd = accept(listener, NULL, NULL);
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    BIO *crt = BIO_new_mem_buf(certgen_cert_pem(fuzz_leaf), -1);
    BIO *key = BIO_new_mem_buf(certgen_key_pem(fuzz_leaf), -1);
    X509 *x = crt ? PEM_read_bio_X509(crt, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = key ? PEM_read_bio_PrivateKey(key, NULL, NULL, NULL) : NULL;
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    if (fd < 0 || ssl == NULL || x == NULL || k == NULL ||
        !SSL_set_max_proto_version(ssl, TLS1_2_VERSION) || !SSL_use_certificate(ssl, x) ||
        !SSL_use_PrivateKey(ssl, k) || !SSL_set_fd(ssl, fd) || SSL_accept(ssl) != 1 ||
        SSL_write(ssl, "hello", 5) != 5)
        abort();
    SSL_shutdown(ssl);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    X509_free(x);
    EVP_PKEY_free(k);
    BIO_free(crt);
    BIO_free(key);
    close(fd);
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (getenv("NS_FUZZ_RECORD") == NULL)
        return 0;
    fuzz_certs();
    int listener, port = fuzz_listen(&listener);
    pthread_t server_thread, relay_thread;
    pthread_create(&server_thread, NULL, serve_tls12_hello, &listener);
    relay_job j;
    char service[16];
    snprintf(service, sizeof service, "%d", fuzz_record_start(&j, &relay_thread, port, 0));
    ns_options *o = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    const char *ca = certgen_cert_pem(fuzz_ca);
    ns_options_add_trusted_certificate(o, ca, strlen(ca));
    ns_options_add_sni(o, "localhost");
    ns_options_set_non_blocking(o, 0);
    ns_socket *c = ns_make_client_tls_socket("127.0.0.1", service, o);
    char buf[8];
    if (c == NULL || ns_socket_recv(c, buf, 5, MSG_WAITALL) != 5 || memcmp(buf, "hello", 5) != 0)
        abort();
    ns_socket_free(c);
    ns_options_free(o);
    pthread_join(server_thread, NULL);
    close(listener);
    fuzz_record_end(&j, relay_thread);
    exit(0);
}

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
    /* NS_FUZZ_EXPECT_DATA: the input must get as far as application data
     * "hello" (to check that a recorded seed does, in the fuzzer-mode tree). */
    int expect_data = getenv("NS_FUZZ_EXPECT_DATA") != NULL;
    if (ns_socket_handshake(c) == NS_OK) {
        char buf[256];
        ssize_t n = ns_socket_recv(c, buf, sizeof buf, 0);
        if (expect_data && (n != 5 || memcmp(buf, "hello", 5) != 0))
            abort();
        ns_socket_peer_certificate(c, NULL);
    } else if (expect_data) {
        fprintf(stderr, "fuzz_tls_client: %s\n", ns_last_error());
        abort();
    }
    raw_abort(fd);
    ns_socket_free(c);
    return 0;
}
