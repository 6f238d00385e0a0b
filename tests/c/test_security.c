/* Security properties, each tested: TLS 1.0/1.1 refused both ways,
 * verification on by default, no SNI for IP literals, private keys wiped
 * when freed, no key material in error messages, and a rejecting verifier
 * rejects (client and server side).  A raw BoringSSL peer (this test's own
 * static copy, not the library's hidden one) plays the old-protocol side. */
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "alloc_hooks.h"
#include "certgen.h"
#include "testlib.h"

static test_cert *ca, *server_cert, *client_cert;

static void setup(void)
{
    if (ca)
        return;
    ca = certgen_ca("security CA");
    server_cert = certgen_leaf(ca, "localhost", "DNS:localhost,IP:127.0.0.1,IP:::1", -1, 365);
    client_cert = certgen_leaf(ca, "client", "DNS:client.test", -1, 365);
}

static void identity(ns_options *o, const test_cert *c)
{
    const char *crt = certgen_cert_pem(c), *key = certgen_key_pem(c);
    if (ns_options_add_certificate(o, crt, strlen(crt)) != NS_OK ||
        ns_options_set_private_key(o, key, strlen(key)) != NS_OK)
        abort();
}

static void trust_ca(ns_options *o)
{
    const char *pem = certgen_cert_pem(ca);
    if (ns_options_add_trusted_certificate(o, pem, strlen(pem)) != NS_OK)
        abort();
}

static ns_options *server_options(void)
{
    setup();
    ns_options *o = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, 3000000);
    identity(o, server_cert);
    return o;
}

typedef struct {
    ns_socket *server;
    int status;
    char message[512];
    char sni[300];
    int has_sni;
} accept_job;

static void *accept_one(void *arg)
{
    accept_job *job = arg;
    ns_socket *conn = ns_socket_accept(job->server);
    job->status = conn ? NS_OK : ns_last_status();
    snprintf(job->message, sizeof job->message, "%s", conn ? "" : ns_last_error());
    const char *sni = conn ? ns_socket_server_name(conn) : NULL;
    job->has_sni = sni != NULL;
    snprintf(job->sni, sizeof job->sni, "%s", sni ? sni : "");
    if (conn) {
        char buf[8];
        ns_socket_recv(conn, buf, sizeof buf, 0);
    }
    ns_socket_free(conn);
    return NULL;
}

/* ---- a raw BoringSSL peer limited to old protocol versions ---- */

static SSL_CTX *old_context(int server)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION);
    if (server) {
        size_t len;
        const unsigned char *der = certgen_cert_der(server_cert, &len);
        X509 *x = d2i_X509(NULL, &der, (long)len);
        const unsigned char *kder = certgen_key_der(server_cert, &len);
        EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &kder, (long)len);
        SSL_CTX_use_certificate(ctx, x);
        SSL_CTX_use_PrivateKey(ctx, k);
        X509_free(x);
        EVP_PKEY_free(k);
    }
    return ctx;
}

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        abort();
    return fd;
}

static void test_tls_1_0_and_1_1_clients_are_refused(void)
{
    ns_options *so = server_options();
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    CHECK(server != NULL);
    accept_job job = {.server = server};
    pthread_t t = spawn(accept_one, &job);
    SSL_CTX *ctx = old_context(0);
    int fd = tcp_connect(ns_socket_local_port(server));
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    int rc = SSL_connect(ssl);
    pthread_join(t, NULL);
    CHECK(rc != 1);
    CHECK_EQ(job.status, NS_ERR_TLS);
    CHECK(strstr(job.message, "PROTOCOL") || strstr(job.message, "protocol"));
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    ns_socket_free(server);
    ns_options_free(so);
}

typedef struct {
    int listener;
    int handshake_ok;
} old_server_job;

static void *old_server(void *arg)
{
    old_server_job *job = arg;
    int fd = accept(job->listener, NULL, NULL);
    SSL_CTX *ctx = old_context(1);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    job->handshake_ok = SSL_accept(ssl) == 1;
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return NULL;
}

static void test_tls_1_0_and_1_1_servers_are_refused(void)
{
    setup();
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 1) == 0);
    getsockname(l, (struct sockaddr *)&a, &len);
    old_server_job job = {.listener = l};
    pthread_t t = spawn(old_server, &job);
    ns_options *co = blocking_options(NS_TLS_SOCKET_OPTIONS, 3000000);
    trust_ca(co);
    char port[16];
    snprintf(port, sizeof port, "%d", ntohs(a.sin_port));
    ns_socket *c = ns_make_client_tls_socket("127.0.0.1", port, co);
    pthread_join(t, NULL);
    CHECK(c == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_TLS);
    CHECK(!job.handshake_ok);
    close(l);
    ns_options_free(co);
}

/* ---- verification on by default ---- */

static void test_verification_is_on_by_default(void)
{
    ns_options *so = server_options();
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    CHECK(server != NULL);
    /* Fresh options have no verifier and no switch to turn checks off. */
    ns_options *co = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    CHECK(ns_options_get_certificate_verifier(co, NULL) == NULL);
    for (int with_options = 0; with_options < 2; with_options++) {
        accept_job job = {.server = server};
        pthread_t t = spawn(accept_one, &job);
        /* The server's CA is not in the system store. */
        ns_socket *c = ns_make_client_tls_socket("127.0.0.1", port_of(server),
                                                 with_options ? co : NULL);
        pthread_join(t, NULL);
        CHECK(c == NULL);
        CHECK_EQ(ns_last_status(), NS_ERR_CERTIFICATE);
        CHECK_ERROR_HAS("certificate");
        CHECK(job.status != NS_OK);
    }
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
}

/* ---- SNI ---- */

static void sni_case(const char *server_node, int family, const char *client_node,
                     const char *expect_sni)
{
    ns_options *so = server_options();
    ns_options_set_ai_family(so, family);
    ns_socket *server = ns_make_server_tls_socket(server_node, "0", so);
    CHECK(server != NULL);
    accept_job job = {.server = server};
    pthread_t t = spawn(accept_one, &job);
    ns_options *co = blocking_options(NS_TLS_SOCKET_OPTIONS, 3000000);
    ns_options_set_ai_family(co, family);
    trust_ca(co);
    ns_socket *c = ns_make_client_tls_socket(client_node, port_of(server), co);
    CHECK(c != NULL);
    ns_socket_free(c);
    pthread_join(t, NULL);
    CHECK_EQ(job.status, NS_OK);
    if (expect_sni) {
        CHECK(job.has_sni && strcmp(job.sni, expect_sni) == 0);
    } else {
        CHECK(!job.has_sni);
    }
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
}

static void test_no_sni_for_ipv4_and_ipv6_literals(void)
{
    sni_case("127.0.0.1", AF_INET, "127.0.0.1", NULL);
    sni_case("::1", AF_INET6, "::1", NULL);
    sni_case("127.0.0.1", AF_INET, "localhost", "localhost");
}

/* ---- key wiping ---- */

/* The EC private scalar of c's key (32 bytes for P-256). */
static void private_scalar(const test_cert *c, unsigned char out[32])
{
    size_t len;
    const unsigned char *der = certgen_key_der(c, &len);
    EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &der, (long)len);
    const EC_KEY *ec = EVP_PKEY_get0_EC_KEY(k);
    if (!ec || !BN_bn2bin_padded(out, 32, EC_KEY_get0_private_key(ec)))
        abort();
    EVP_PKEY_free(k);
}

/* Loads the key (memory and file), builds a TLS server context with it,
 * frees everything, and counts freed heap blocks still holding `needle`. */
static long key_copies_left_in_freed_memory(const void *needle, size_t len, const char *file)
{
    alloc_watch(needle, len);
    ns_options *o = server_options();
    ns_options_clear_certificates(o);
    ns_options_set_private_key_file(o, file);
    identity(o, server_cert);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", o);
    ns_socket_free(server);
    ns_options_free(o);
    long hits = alloc_watch_hits();
    alloc_watch(NULL, 0);
    return hits;
}

static void test_private_keys_are_wiped_when_freed(void)
{
    setup();
    if (!alloc_libc_hooked()) {
        printf("  skipped: free() cannot be watched in this build (sanitizer or valgrind)\n");
        return;
    }
    unsigned char scalar[32];
    private_scalar(server_cert, scalar);
    /* The scanner works: a copy freed without wiping is seen. */
    alloc_watch(scalar, sizeof scalar);
    void *(*volatile alloc)(size_t) = malloc; /* not optimised away */
    void (*volatile release)(void *) = free;
    unsigned char *copy = alloc(100);
    memcpy(copy + 40, scalar, sizeof scalar);
    release(copy);
    CHECK_EQ(alloc_watch_hits(), 1);
    alloc_watch(NULL, 0);
    char file[] = "/tmp/ns-security-XXXXXX";
    int fd = mkstemp(file);
    const char *pem = certgen_key_pem(server_cert);
    CHECK(fd >= 0 && write(fd, pem, strlen(pem)) == (ssize_t)strlen(pem));
    close(fd);
    /* Neither the raw scalar nor a piece of the PEM text is left behind
     * in any block freed by the library, BoringSSL or stdio. */
    CHECK_EQ(key_copies_left_in_freed_memory(scalar, sizeof scalar, file), 0);
    const char *body = strstr(pem, "-----\n") + 6;
    CHECK_EQ(key_copies_left_in_freed_memory(body + 20, 40, file), 0);
    unlink(file);
}

/* ---- error messages ---- */

/* 1 if any `window`-byte run of secret[0..len) occurs in text. */
static int echoes(const char *text, const void *secret, size_t len, size_t window)
{
    for (size_t i = 0; i + window <= len; i++)
        if (memmem(text, strlen(text), (const char *)secret + i, window))
            return 1;
    return 0;
}

static void test_errors_never_echo_key_material(void)
{
    setup();
    ns_options *o = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    const char *pem = certgen_key_pem(server_cert);
    size_t der_len;
    const unsigned char *der = certgen_key_der(server_cert, &der_len);
    char *bad = strdup(pem);
    bad[strlen(bad) / 2] = '!'; /* corrupt the middle of the base64 */
    const char *secretish =
        "-----BEGIN PRIVATE KEY-----\nTOPSECRETTOPSECRETTOPSECRETTOPSECRETTOPSECRET\n"
        "-----END PRIVATE KEY-----\n";
    unsigned char *bad_der = malloc(der_len);
    memcpy(bad_der, der, der_len);
    bad_der[der_len - 5] ^= 0xff;
    struct {
        const void *data;
        size_t len;
    } inputs[] = {{bad, strlen(bad)}, {secretish, strlen(secretish)}, {bad_der, der_len - 3},
                  {pem, strlen(pem) - 40}};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        CHECK(ns_options_set_private_key(o, inputs[i].data, inputs[i].len) != NS_OK);
        CHECK(!echoes(ns_last_error(), inputs[i].data, inputs[i].len, 8));
        /* A key given where certificates are expected is not echoed either. */
        CHECK(ns_options_add_certificate(o, inputs[i].data, inputs[i].len) != NS_OK);
        CHECK(!echoes(ns_last_error(), inputs[i].data, inputs[i].len, 8));
    }
    CHECK(ns_options_add_trusted_certificate(o, pem, strlen(pem)) != NS_OK);
    CHECK(!echoes(ns_last_error(), pem, strlen(pem), 8));
    CHECK(!echoes(ns_last_error(), der, der_len, 8));
    free(bad);
    free(bad_der);
    ns_options_free(o);
}

/* ---- verifiers ---- */

static int reject_everything(void *ud, int depth, int err, const unsigned char *der, size_t len)
{
    ++*(int *)ud;
    return 0;
}

static void test_a_rejecting_verifier_rejects_a_valid_chain(void)
{
    ns_options *so = server_options();
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    accept_job job = {.server = server};
    pthread_t t = spawn(accept_one, &job);
    ns_options *co = blocking_options(NS_TLS_SOCKET_OPTIONS, 3000000);
    trust_ca(co);
    int calls = 0;
    ns_options_set_certificate_verifier(co, reject_everything, &calls);
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), co);
    pthread_join(t, NULL);
    CHECK(c == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_CERTIFICATE);
    CHECK_ERROR_HAS("verifier rejected");
    CHECK(calls >= 1);
    CHECK(job.status != NS_OK);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
}

static void test_a_rejecting_server_verifier_refuses_a_valid_client(void)
{
    ns_options *so = server_options();
    trust_ca(so);
    ns_options_set_client_certificate_required(so, 1);
    int calls = 0;
    ns_options_set_certificate_verifier(so, reject_everything, &calls);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    accept_job job = {.server = server};
    pthread_t t = spawn(accept_one, &job);
    ns_options *co = blocking_options(NS_TLS_SOCKET_OPTIONS, 3000000);
    trust_ca(co);
    identity(co, client_cert);
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), co);
    char buf[4];
    /* TLS 1.3: the client learns of the refusal at its first read. */
    if (c != NULL)
        CHECK(ns_socket_recv(c, buf, sizeof buf, 0) < 0);
    pthread_join(t, NULL);
    CHECK_EQ(job.status, NS_ERR_CERTIFICATE);
    CHECK(strstr(job.message, "verifier rejected") != NULL);
    CHECK(calls >= 1);
    ns_socket_free(c);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
}

static const ns_test tests[] = {
    TEST(test_tls_1_0_and_1_1_clients_are_refused),
    TEST(test_tls_1_0_and_1_1_servers_are_refused),
    TEST(test_verification_is_on_by_default),
    TEST(test_no_sni_for_ipv4_and_ipv6_literals),
    TEST(test_private_keys_are_wiped_when_freed),
    TEST(test_errors_never_echo_key_material),
    TEST(test_a_rejecting_verifier_rejects_a_valid_chain),
    TEST(test_a_rejecting_server_verifier_refuses_a_valid_client),
};

NS_TEST_MAIN(tests)
