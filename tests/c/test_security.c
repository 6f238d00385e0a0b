/* Security properties, each tested: TLS 1.0/1.1 refused both ways,
 * verification on by default, no SNI for IP literals, private keys wiped
 * when freed, no key material in error messages, and a rejecting verifier
 * rejects (client and server side).  A raw BoringSSL peer (this test's own
 * static copy, not the library's hidden one) plays the old-protocol side. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec_key.h>
#include <openssl/err.h>
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
    ns_options *o = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, SLACK(3000000));
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

/* ---- a raw BoringSSL peer: old protocol versions, chosen cipher suites ---- */

/* A raw context for TLS versions min..max with `ciphers` (NULL: the
 * default list); a server one has server_cert's identity. */
static SSL_CTX *peer_context(int server, uint16_t min, uint16_t max, const char *ciphers)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    SSL_CTX_set_min_proto_version(ctx, min);
    SSL_CTX_set_max_proto_version(ctx, max);
    if (ciphers && !SSL_CTX_set_strict_cipher_list(ctx, ciphers))
        abort();
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

/* "<what> 127.0.0.1:<port of fd's local end>: <cause>", the server's
 * message about the raw client on fd. */
static const char *about_client(const char *what, int fd, const char *cause)
{
    static char text[512];
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    snprintf(text, sizeof text, "%s 127.0.0.1:%d: %s", what, ntohs(a.sin_port), cause);
    return text;
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
    SSL_CTX *ctx = peer_context(0, TLS1_VERSION, TLS1_1_VERSION, NULL);
    int fd = tcp_connect(ns_socket_local_port(server));
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    int rc = SSL_connect(ssl);
    pthread_join(t, NULL);
    CHECK(rc != 1);
    CHECK_EQ(job.status, NS_ERR_TLS);
    CHECK_STR(job.message, about_client("TLS handshake with", fd, "UNSUPPORTED_PROTOCOL"));
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    ns_socket_free(server);
    ns_options_free(so);
}

/* A raw server for one netsocket client, with versions min..max and `ciphers`. */
typedef struct {
    uint16_t min, max;
    const char *ciphers;
    int listener;
    int handshake_ok;
    char port[16];
} raw_server_job;

static void *raw_server(void *arg)
{
    raw_server_job *job = arg;
    int fd = accept(job->listener, NULL, NULL);
    SSL_CTX *ctx = peer_context(1, job->min, job->max, job->ciphers);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    job->handshake_ok = SSL_accept(ssl) == 1;
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return NULL;
}

/* A netsocket client trusting our CA connects to a raw server; returns the
 * client socket (NULL if the handshake failed). */
static ns_socket *connect_to_raw_server(raw_server_job *job)
{
    setup();
    job->listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(job->listener, (struct sockaddr *)&a, sizeof a) != 0 || listen(job->listener, 1) != 0)
        abort();
    getsockname(job->listener, (struct sockaddr *)&a, &len);
    snprintf(job->port, sizeof job->port, "%d", ntohs(a.sin_port));
    pthread_t t = spawn(raw_server, job);
    ns_options *co = blocking_options(NS_TLS_SOCKET_OPTIONS, SLACK(3000000));
    trust_ca(co);
    ns_socket *c = ns_make_client_tls_socket("127.0.0.1", job->port, co);
    pthread_join(t, NULL);
    close(job->listener);
    ns_options_free(co);
    return c;
}

static void test_tls_1_0_and_1_1_servers_are_refused(void)
{
    raw_server_job job = {.min = TLS1_VERSION, .max = TLS1_1_VERSION};
    ns_socket *c = connect_to_raw_server(&job);
    CHECK(c == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_TLS);
    CHECK(!job.handshake_ok);
    char expect[256];
    snprintf(expect, sizeof expect,
             "TLS handshake with 127.0.0.1:%s: the peer sent the alert protocol_version (70)",
             job.port);
    CHECK_STR(ns_last_error(), expect);
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
    ns_options *co = blocking_options(NS_TLS_SOCKET_OPTIONS, SLACK(3000000));
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
        SKIP("free() cannot be watched in this build (sanitizer or valgrind)");
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
    /* A key file with its chain after it, past 16 KiB: read into one block,
     * never grown (a grown block left the key in the freed one). */
    fd = open(file, O_WRONLY | O_APPEND);
    const char *chain = certgen_cert_pem(ca);
    for (int i = 0; fd >= 0 && i < 40; i++)
        CHECK(write(fd, chain, strlen(chain)) == (ssize_t)strlen(chain));
    struct stat st;
    CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 16384);
    close(fd);
    CHECK_EQ(key_copies_left_in_freed_memory(scalar, sizeof scalar, file), 0);
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
    ns_options *co = blocking_options(NS_TLS_SOCKET_OPTIONS, SLACK(3000000));
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
    ns_options *co = blocking_options(NS_TLS_SOCKET_OPTIONS, SLACK(3000000));
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

/* ---- cipher suites: TLS 1.2 is ECDHE with AEAD only, the server's order ---- */

/* One raw client's handshake with a netsocket server. */
typedef struct {
    uint16_t max;        /* in: highest version (TLS 1.2 or 1.3) */
    const char *ciphers; /* in: TLS 1.2 suites in the client's order, NULL = default */
    const char *sni;     /* in: the server name to send, NULL = none */
    char agreed[128];    /* out: the suite agreed, "" if the handshake failed */
    int alert;           /* out: the alert the client received, -1 if none */
    int fd;              /* out: the client's descriptor, still open */
    accept_job job;      /* out: what the server's accept saw */
    int want_session;     /* in: keep the session (else freed) */
    SSL_SESSION *session; /* out: the last session the server issued, or NULL (own it) */
} raw_client;

static int keep_session(SSL *ssl, SSL_SESSION *session)
{
    raw_client *r = SSL_get_app_data(ssl);
    SSL_SESSION_free(r->session);
    r->session = session;
    return 1;
}

static void run_raw_client(ns_socket *server, raw_client *r)
{
    r->job.server = server;
    pthread_t t = spawn(accept_one, &r->job);
    SSL_CTX *ctx = peer_context(0, TLS1_2_VERSION, r->max, r->ciphers);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, keep_session);
    r->fd = tcp_connect(ns_socket_local_port(server));
    SSL *ssl = SSL_new(ctx);
    SSL_set_app_data(ssl, r);
    SSL_set_fd(ssl, r->fd);
    SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
    if (r->sni)
        SSL_set_tlsext_host_name(ssl, r->sni);
    r->alert = -1;
    r->agreed[0] = '\0';
    if (SSL_connect(ssl) == 1) {
        snprintf(r->agreed, sizeof r->agreed, "%s",
                 SSL_CIPHER_standard_name(SSL_get_current_cipher(ssl)));
        SSL_write(ssl, "x", 1);
    } else {
        uint32_t e = ERR_peek_last_error();
        if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET)
            r->alert = ERR_GET_REASON(e) - SSL_AD_REASON_OFFSET;
        ERR_clear_error();
    }
    shutdown(r->fd, SHUT_WR);
    pthread_join(t, NULL);
    char byte;
    while (r->agreed[0] && SSL_read(ssl, &byte, 1) > 0) /* TLS 1.3 tickets, then the close */
        ;
    ERR_clear_error();
    if (!r->want_session) {
        SSL_SESSION_free(r->session);
        r->session = NULL;
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
}

/* Tickets (and TLS 1.2 sessions) live 2 hours (SECURITY.md): the lifetime
 * the server announces.  BoringSSL's own client keeps a TLS 1.3 ticket for
 * the lesser of the announced lifetime and its default of 2 days.  Both
 * sides count whole seconds off as the session ages: one may pass during
 * a handshake under valgrind. */
static void test_servers_announce_a_ticket_lifetime_of_two_hours(void)
{
    static const uint16_t versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};
    for (size_t i = 0; i < 2; i++) {
        ns_options *so = server_options();
        ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
        CHECK(server != NULL);
        raw_client r = {.max = versions[i], .want_session = 1};
        run_raw_client(server, &r);
        int version = r.session ? SSL_SESSION_get_protocol_version(r.session) : 0;
        long lifetime = r.session == NULL ? 0
                        : version == TLS1_3_VERSION ? (long)SSL_SESSION_get_timeout(r.session)
                                                    : (long)SSL_SESSION_get_ticket_lifetime_hint(r.session);
        SSL_SESSION_free(r.session);
        close(r.fd);
        ns_socket_free(server);
        ns_options_free(so);
        CHECK_EQ(version, versions[i]);
        CHECK(lifetime > 7200 - 5 && lifetime <= 7200);
    }
}

/* A raw TLS 1.2 client offering `ciphers`, in that order, to a new server. */
static void tls12_client_offering(const char *ciphers, raw_client *r)
{
    ns_options *so = server_options();
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    ns_options_free(so);
    if (server == NULL)
        abort();
    *r = (raw_client){.max = TLS1_2_VERSION, .ciphers = ciphers};
    run_raw_client(server, r);
    ns_socket_free(server);
}

static void test_server_refuses_tls12_suites_without_ecdhe_and_aead(void)
{
    /* CBC with SHA-1 or SHA-256 MACs, and static RSA key exchange (the
     * ECDSA certificate rules out the static-RSA ones anyway: the interop
     * script tests an RSA server with 3DES and static RSA). */
    static const char *const weak[] = {"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA"};
    for (size_t i = 0; i < sizeof weak / sizeof weak[0]; i++) {
        raw_client r;
        tls12_client_offering(weak[i], &r);
        CHECK_STR(r.agreed, "");
        CHECK_EQ(r.job.status, NS_ERR_TLS);
        CHECK_STR(r.job.message, about_client("TLS handshake with", r.fd, "NO_SHARED_CIPHER"));
        close(r.fd);
    }
}

static void test_server_prefers_its_own_tls12_order(void)
{
    /* The client lists ChaCha20 and AES-256 first; the server's first
     * choice, AES-128-GCM, wins. */
    raw_client r;
    tls12_client_offering("ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:"
                          "ECDHE-ECDSA-AES128-GCM-SHA256",
                          &r);
    CHECK_EQ(r.job.status, NS_OK);
    close(r.fd);
    CHECK_STR(r.agreed, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
    /* Each of the six is accepted alone. */
    static const char *const good[][2] = {
        {"ECDHE-ECDSA-AES256-GCM-SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
        {"ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        tls12_client_offering(good[i][0], &r);
        close(r.fd);
        CHECK_EQ(r.job.status, NS_OK);
        CHECK_STR(r.agreed, good[i][1]);
    }
}

static void test_client_offers_no_tls12_suite_without_ecdhe_and_aead(void)
{
    static const char *const weak[] = {"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA"};
    for (size_t i = 0; i < sizeof weak / sizeof weak[0]; i++) {
        raw_server_job job = {.min = TLS1_2_VERSION, .max = TLS1_2_VERSION, .ciphers = weak[i]};
        ns_socket *c = connect_to_raw_server(&job);
        CHECK(c == NULL);
        CHECK(!job.handshake_ok);
        CHECK_EQ(ns_last_status(), NS_ERR_TLS);
        char expect[256];
        snprintf(expect, sizeof expect,
                 "TLS handshake with 127.0.0.1:%s: the peer sent the alert handshake_failure (40)",
                 job.port);
        CHECK_STR(ns_last_error(), expect);
    }
}

/* ---- host names ---- */

static void test_host_check_never_falls_back_to_the_common_name(void)
{
    setup();
    /* CN=localhost and no subjectAltName: not a certificate for localhost. */
    test_cert *cn_only = certgen_leaf(ca, "localhost", NULL, -1, 365);
    ns_options *so = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, SLACK(3000000));
    identity(so, cn_only);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    CHECK(server != NULL);
    accept_job job = {.server = server};
    pthread_t t = spawn(accept_one, &job);
    ns_options *co = blocking_options(NS_TLS_SOCKET_OPTIONS, SLACK(3000000));
    trust_ca(co);
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), co);
    pthread_join(t, NULL);
    CHECK(c == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_CERTIFICATE);
    char expect[256];
    snprintf(expect, sizeof expect,
             "TLS handshake with localhost:%s: certificate rejected at depth 0: Hostname mismatch: "
             "expected \"localhost\", the certificate holds no DNS or IP names (subjectAltName)",
             port_of(server));
    CHECK_STR(ns_last_error(), expect);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
    certgen_free(cn_only);
}

/* 127.1, 2130706433 and 0x7f.1 are what the resolver takes them for: the
 * address 127.0.0.1.  So no SNI, and the certificate's IP address is what
 * must match (server_cert has IP:127.0.0.1; on a name check they fail). */
static void test_numeric_ipv4_forms_are_ip_literals(void)
{
    static const char *const forms[] = {"127.1", "2130706433", "0x7f.1", "0177.0.0.1",
                                        "127.0.1"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        sni_case("127.0.0.1", AF_INET, forms[i], NULL);
    /* A name that merely starts like an address is still a name. */
    sni_case("127.0.0.1", AF_INET, "localhost", "localhost");
}

static void test_sni_that_is_not_a_host_name_is_refused(void)
{
    ns_options *so = server_options();
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    CHECK(server != NULL);
    char long_label[80];
    memset(long_label, 'a', 64);
    strcpy(long_label + 64, ".test");
    const char *const bad[] = {"evil.test\nGET / HTTP/1.1", "evil.test\r\n[auth] root logged in",
                               "tab\tname", "esc\x1b[31m.test", "sp ace.test", "dot..test",
                               ".lead.test", "trail.test.", "caf\xc3\xa9.test", long_label,
                               "semi;colon", "per%cent"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        raw_client r = {.max = TLS1_3_VERSION, .sni = bad[i]};
        run_raw_client(server, &r);
        CHECK_STR(r.agreed, "");
        CHECK_EQ(r.alert, SSL_AD_UNRECOGNIZED_NAME);
        CHECK_EQ(r.job.status, NS_ERR_TLS);
        CHECK_STR(r.job.message,
                  about_client("TLS handshake with", r.fd,
                               "the client's server name (SNI) is not a valid host name "
                               "(refused with the alert \"unrecognized_name\")"));
        close(r.fd);
    }
    /* Host names, also unusual ones, are reported as sent. */
    const char *const good[] = {"localhost", "a-b_c.Example.test", "xn--caf-dma.test", "1.2.3.4",
                                long_label + 1};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        raw_client r = {.max = TLS1_3_VERSION, .sni = good[i]};
        run_raw_client(server, &r);
        close(r.fd);
        CHECK_EQ(r.job.status, NS_OK);
        CHECK(r.job.has_sni);
        CHECK_STR(r.job.sni, good[i]);
    }
    ns_socket_free(server);
    ns_options_free(so);
}

static const ns_test tests[] = {
    TEST(test_servers_announce_a_ticket_lifetime_of_two_hours),
    TEST(test_tls_1_0_and_1_1_clients_are_refused),
    TEST(test_tls_1_0_and_1_1_servers_are_refused),
    TEST(test_verification_is_on_by_default),
    TEST(test_no_sni_for_ipv4_and_ipv6_literals),
    TEST(test_private_keys_are_wiped_when_freed),
    TEST(test_errors_never_echo_key_material),
    TEST(test_a_rejecting_verifier_rejects_a_valid_chain),
    TEST(test_a_rejecting_server_verifier_refuses_a_valid_client),
    TEST(test_server_refuses_tls12_suites_without_ecdhe_and_aead),
    TEST(test_server_prefers_its_own_tls12_order),
    TEST(test_client_offers_no_tls12_suite_without_ecdhe_and_aead),
    TEST(test_host_check_never_falls_back_to_the_common_name),
    TEST(test_numeric_ipv4_forms_are_ip_literals),
    TEST(test_sni_that_is_not_a_host_name_is_refused),
};

NS_TEST_MAIN(tests)
