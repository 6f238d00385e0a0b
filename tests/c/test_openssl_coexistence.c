/* OpenSSL 3 in the same process changes nothing.
 *
 * Before netsocket is used, main() loads Debian's libssl.so.3 with
 * RTLD_GLOBAL (as Ruby does for its openssl extension) and initialises it,
 * so OpenSSL's SSL_* and X509_* names sit in the global scope.  netsocket
 * carries BoringSSL inside it with every symbol hidden, so its TLS must work
 * exactly as before, also while OpenSSL itself is used in the same process,
 * and also when OpenSSL is preloaded ahead of everything (LD_PRELOAD).
 * A binary of its own, because it changes the process. */
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "certgen.h"
#include "testlib.h"

#define TIMEOUT_US 5000000

/* ------------------------------------------------------------------ */
/* OpenSSL, reached through dlsym                                      */
/* ------------------------------------------------------------------ */

#define OSSL_SSL_VERIFY_PEER 0x01
#define OSSL_SSL_CTRL_SET_TLSEXT_HOSTNAME 55
#define OSSL_TLSEXT_NAMETYPE_host_name 0

static struct {
    void *lib;
    char error[256];
    int (*init_ssl)(uint64_t opts, const void *settings);
    const void *(*client_method)(void);
    void *(*ctx_new)(const void *method);
    void (*ctx_free)(void *ctx);
    int (*ctx_load_verify_locations)(void *ctx, const char *file, const char *dir);
    void (*ctx_set_verify)(void *ctx, int mode, void *callback);
    void *(*ssl_new)(void *ctx);
    void (*ssl_free)(void *ssl);
    int (*set_fd)(void *ssl, int fd);
    int (*set1_host)(void *ssl, const char *host);
    long (*ctrl)(void *ssl, int cmd, long larg, void *parg);
    int (*set_alpn_protos)(void *ssl, const unsigned char *protos, unsigned len);
    int (*connect)(void *ssl);
    int (*read)(void *ssl, void *buf, int len);
    int (*write)(void *ssl, const void *buf, int len);
    int (*shutdown)(void *ssl);
    const char *(*get_version)(const void *ssl);
    void (*get0_alpn_selected)(const void *ssl, const unsigned char **data, unsigned *len);
    long (*get_verify_result)(const void *ssl);
    unsigned long (*version_num)(void);
} ossl;

static int load_openssl(void)
{
    ossl.lib = dlopen("libssl.so.3", RTLD_NOW | RTLD_GLOBAL);
    if (ossl.lib == NULL) {
        snprintf(ossl.error, sizeof ossl.error, "%s", dlerror());
        return -1;
    }
    static const struct {
        const char *name;
        void *slot;
    } syms[] = {
        {"OPENSSL_init_ssl", &ossl.init_ssl},
        {"TLS_client_method", &ossl.client_method},
        {"SSL_CTX_new", &ossl.ctx_new},
        {"SSL_CTX_free", &ossl.ctx_free},
        {"SSL_CTX_load_verify_locations", &ossl.ctx_load_verify_locations},
        {"SSL_CTX_set_verify", &ossl.ctx_set_verify},
        {"SSL_new", &ossl.ssl_new},
        {"SSL_free", &ossl.ssl_free},
        {"SSL_set_fd", &ossl.set_fd},
        {"SSL_set1_host", &ossl.set1_host},
        {"SSL_ctrl", &ossl.ctrl},
        {"SSL_set_alpn_protos", &ossl.set_alpn_protos},
        {"SSL_connect", &ossl.connect},
        {"SSL_read", &ossl.read},
        {"SSL_write", &ossl.write},
        {"SSL_shutdown", &ossl.shutdown},
        {"SSL_get_version", &ossl.get_version},
        {"SSL_get0_alpn_selected", &ossl.get0_alpn_selected},
        {"SSL_get_verify_result", &ossl.get_verify_result},
        {"OpenSSL_version_num", &ossl.version_num},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *fn = dlsym(ossl.lib, syms[i].name);
        if (fn == NULL) {
            snprintf(ossl.error, sizeof ossl.error, "libssl.so.3 has no %s", syms[i].name);
            return -1;
        }
        memcpy(syms[i].slot, &fn, sizeof fn);
    }
    /* Really initialise it: library init, and a context made and freed. */
    if (ossl.init_ssl(0, NULL) != 1) {
        snprintf(ossl.error, sizeof ossl.error, "OPENSSL_init_ssl failed");
        return -1;
    }
    void *ctx = ossl.ctx_new(ossl.client_method());
    if (ctx == NULL) {
        snprintf(ossl.error, sizeof ossl.error, "OpenSSL's SSL_CTX_new failed");
        return -1;
    }
    ossl.ctx_free(ctx);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Certificates and a netsocket TLS server in a thread                 */
/* ------------------------------------------------------------------ */

static char dir[] = "/tmp/ns-coexist-XXXXXX";
static char ca_path[sizeof dir + 16];
static test_cert *ca, *server_cert, *client_cert;

static void add_identity(ns_options *o, const test_cert *c)
{
    ns_options_add_certificate(o, certgen_cert_pem(c), strlen(certgen_cert_pem(c)));
    ns_options_set_private_key(o, certgen_key_pem(c), strlen(certgen_key_pem(c)));
}

/* What the server thread saw of its one client. */
typedef struct {
    ns_socket *server;
    int status; /* of accept */
    const char *version;
    char alpn[32], server_name[64];
    int client_cert_ok; /* the client presented client_cert */
    int exchange_ok;    /* got the client's line, sent ours, then an orderly end */
} serve_job;

static ns_socket *tls_server(int require_client_cert)
{
    ns_options *o = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, TIMEOUT_US);
    add_identity(o, server_cert);
    ns_options_add_alpn(o, "h2");
    ns_options_add_alpn(o, "http/1.1");
    if (require_client_cert) {
        ns_options_add_trusted_certificate(o, certgen_cert_pem(ca), strlen(certgen_cert_pem(ca)));
        ns_options_set_client_certificate_required(o, 1);
    }
    ns_socket *s = ns_make_server_tls_socket("127.0.0.1", "0", o);
    ns_options_free(o);
    return s;
}

static void *serve_one(void *arg)
{
    serve_job *job = arg;
    struct pollfd pfd = {ns_socket_fd(job->server), POLLIN, 0};
    if (poll(&pfd, 1, TIMEOUT_US / 1000) != 1) {
        job->status = NS_ERR_READ_TIMEOUT;
        return NULL;
    }
    ns_socket *conn = ns_socket_accept(job->server);
    job->status = conn ? NS_OK : ns_last_status();
    if (conn == NULL)
        return NULL;
    job->version = ns_socket_tls_version(conn);
    snprintf(job->alpn, sizeof job->alpn, "%s",
             ns_socket_selected_alpn(conn) ? ns_socket_selected_alpn(conn) : "");
    snprintf(job->server_name, sizeof job->server_name, "%s",
             ns_socket_server_name(conn) ? ns_socket_server_name(conn) : "");
    size_t len;
    const unsigned char *der = ns_socket_peer_certificate(conn, &len);
    job->client_cert_ok = certgen_is(client_cert, der, len);
    char end[8];
    job->exchange_ok = recv_text(conn, "client says hello\n") &&
                       send_text(conn, "server says hello\n") &&
                       ns_socket_recv(conn, end, sizeof end, 0) == 0;
    ns_socket_free(conn);
    return NULL;
}

/* Skips the test without OpenSSL 3, unless NS_INTEROP_REQUIRE_PEERS is set. */
#define REQUIRE_OPENSSL()                                                                  \
    do {                                                                                   \
        if (ossl.lib == NULL) {                                                            \
            if (getenv("NS_INTEROP_REQUIRE_PEERS")) {                                      \
                fprintf(stderr, "  %s\n", ossl.error);                                     \
                ns_test_failed = 1;                                                        \
                return;                                                                    \
            }                                                                              \
            SKIP("%s", ossl.error);                                                        \
        }                                                                                  \
    } while (0)

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

/* The hazard is real: SSL_CTX_new in the global scope is OpenSSL's. */
static void test_openssl_is_loaded_globally(void)
{
    REQUIRE_OPENSSL();
    CHECK(ossl.version_num() >> 28 == 3);
    void *global = dlsym(RTLD_DEFAULT, "SSL_CTX_new");
    CHECK(global != NULL);
    Dl_info info;
    CHECK(dladdr(global, &info) != 0);
    CHECK(strstr(info.dli_fname, "libssl.so.3") != NULL);
    /* netsocket exports none of BoringSSL's names. */
    void *netsocket = dlopen("libnetsocket.so.1", RTLD_NOW | RTLD_NOLOAD);
    CHECK(netsocket != NULL);
    CHECK(dlsym(netsocket, "ns_version") != NULL);
    static const char *const hidden[] = {"SSL_CTX_new", "SSL_CTX_free", "SSL_new",
                                         "X509_free", "ERR_get_error", "EVP_PKEY_free"};
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++) {
        void *sym = dlsym(netsocket, hidden[i]);
        /* Found at all, it must be OpenSSL's (dlsym searches dependencies too). */
        CHECK(sym == NULL || (dladdr(sym, &info) && strstr(info.dli_fname, "libnetsocket") == NULL));
    }
    dlclose(netsocket);
}

/* A full netsocket client + server exchange: TLS 1.3, chain and host name
 * verification, SNI, ALPN, mTLS and data both ways. */
static void test_netsocket_tls_exchange_with_openssl_loaded(void)
{
    ns_socket *server = tls_server(1);
    CHECK(server != NULL);
    serve_job job = {server};
    pthread_t t = spawn(serve_one, &job);
    ns_options *o = blocking_options(NS_TLS_SOCKET_OPTIONS, TIMEOUT_US);
    ns_options_set_connection_timeout(o, TIMEOUT_US);
    ns_options_add_trusted_certificate(o, certgen_cert_pem(ca), strlen(certgen_cert_pem(ca)));
    ns_options_add_sni(o, "localhost");
    ns_options_add_alpn(o, "http/1.1");
    ns_options_add_alpn(o, "h2");
    add_identity(o, client_cert);
    ns_socket *c = ns_make_client_tls_socket("127.0.0.1", port_of(server), o);
    ns_options_free(o);
    int sent = c && send_text(c, "client says hello\n");
    int got = sent && recv_text(c, "server says hello\n");
    ns_socket_free(c); /* close_notify ends the server's wait */
    pthread_join(t, NULL);
    ns_socket_free(server);
    CHECK(c != NULL);
    CHECK(got);
    CHECK_EQ(job.status, NS_OK);
    CHECK_STR(job.version, "TLSv1.3");
    CHECK_STR(job.alpn, "h2");
    CHECK_STR(job.server_name, "localhost");
    CHECK(job.client_cert_ok);
    CHECK(job.exchange_ok);
    /* A bad certificate is still refused as before. */
    o = blocking_options(NS_TLS_SOCKET_OPTIONS, TIMEOUT_US);
    ns_options_add_sni(o, "localhost"); /* system store only: our CA is unknown */
    server = tls_server(0);
    job = (serve_job){server};
    t = spawn(serve_one, &job);
    c = ns_make_client_tls_socket("127.0.0.1", port_of(server), o);
    ns_options_free(o);
    int status = ns_last_status();
    ns_socket_free(c);
    pthread_join(t, NULL);
    ns_socket_free(server);
    CHECK(c == NULL);
    CHECK_EQ(status, NS_ERR_CERTIFICATE);
}

/* OpenSSL's own client talks to a netsocket server in the same process:
 * both TLS stacks in use at once. */
static void test_openssl_client_against_netsocket_server(void)
{
    REQUIRE_OPENSSL();
    ns_socket *server = tls_server(0);
    CHECK(server != NULL);
    serve_job job = {server};
    pthread_t t = spawn(serve_one, &job);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {TIMEOUT_US / 1000000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)ns_socket_local_port(server)),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int connected = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;

    void *ctx = ossl.ctx_new(ossl.client_method());
    void *ssl = NULL;
    int handshake = 0, got = 0;
    const char *version = NULL;
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    long verify = -1;
    if (ctx && connected && ossl.ctx_load_verify_locations(ctx, ca_path, NULL) == 1) {
        ossl.ctx_set_verify(ctx, OSSL_SSL_VERIFY_PEER, NULL);
        ssl = ossl.ssl_new(ctx);
        static const unsigned char protos[] = "\x08http/1.1\x02h2";
        if (ssl && ossl.set_fd(ssl, fd) == 1 && ossl.set1_host(ssl, "localhost") == 1 &&
            ossl.ctrl(ssl, OSSL_SSL_CTRL_SET_TLSEXT_HOSTNAME, OSSL_TLSEXT_NAMETYPE_host_name,
                      (void *)"localhost") == 1 &&
            ossl.set_alpn_protos(ssl, protos, sizeof protos - 1) == 0)
            handshake = ossl.connect(ssl) == 1;
    }
    if (handshake) {
        version = ossl.get_version(ssl);
        ossl.get0_alpn_selected(ssl, &alpn, &alpn_len);
        verify = ossl.get_verify_result(ssl);
        char buf[64] = {0};
        int n = 0;
        if (ossl.write(ssl, "client says hello\n", 18) == 18)
            while (n < (int)sizeof buf - 1 && !strstr(buf, "\n")) {
                int r = ossl.read(ssl, buf + n, (int)sizeof buf - 1 - n);
                if (r <= 0)
                    break;
                n += r;
            }
        got = strcmp(buf, "server says hello\n") == 0;
        ossl.shutdown(ssl); /* close_notify ends the server's wait */
    }
    char version_copy[16] = "";
    if (version)
        snprintf(version_copy, sizeof version_copy, "%s", version);
    char alpn_copy[16] = "";
    if (alpn && alpn_len < sizeof alpn_copy)
        memcpy(alpn_copy, alpn, alpn_len);
    ossl.ssl_free(ssl);
    ossl.ctx_free(ctx);
    close(fd); /* also ends the server's wait if the handshake failed */
    pthread_join(t, NULL);
    ns_socket_free(server);

    CHECK(connected);
    CHECK(handshake);
    CHECK_EQ(verify, 0); /* X509_V_OK: OpenSSL verified netsocket's chain and name */
    CHECK_STR(version_copy, "TLSv1.3");
    CHECK_STR(alpn_copy, "h2");
    CHECK(got);
    CHECK_EQ(job.status, NS_OK);
    CHECK_STR(job.version, "TLSv1.3");
    CHECK_STR(job.alpn, "h2");
    CHECK_STR(job.server_name, "localhost");
    CHECK(job.exchange_ok);
}

/* The most hostile order: OpenSSL preloaded ahead of everything, so its
 * names come first in every lookup, including libnetsocket's own.  Runs the
 * exchange test again in a child process started that way. */
static void test_netsocket_exchange_with_openssl_preloaded(void)
{
    REQUIRE_OPENSSL();
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    SKIP("a sanitizer runtime must be loaded first");
#endif
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(n > 0);
    self[n] = '\0';
    int out[2];
    CHECK(pipe(out) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, out[1], 2);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    char *argv[] = {self, "test_netsocket_tls_exchange_with_openssl_loaded", NULL};
    char *envp[] = {"LD_PRELOAD=libssl.so.3", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, self, &actions, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    if (rc != 0)
        close(out[0]);
    CHECK_EQ(rc, 0);
    char log[8192] = "";
    size_t len = 0;
    int64_t deadline = now_us() + 20000000;
    struct pollfd pfd = {out[0], POLLIN, 0};
    while (len < sizeof log - 1 && now_us() < deadline &&
           poll(&pfd, 1, (int)((deadline - now_us()) / 1000)) > 0) {
        ssize_t r = read(out[0], log + len, sizeof log - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        log[len] = '\0';
    }
    close(out[0]);
    int status = 0, reaped = 0;
    while (!reaped && now_us() < deadline + 2000000) {
        reaped = waitpid(pid, &status, WNOHANG) == pid;
        if (!reaped)
            usleep(10000);
    }
    if (!reaped) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    if (!(reaped && WIFEXITED(status) && WEXITSTATUS(status) == 0))
        fprintf(stderr, "  child output:\n%s\n", log);
    CHECK(reaped);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    CHECK(strstr(log, "1 passed, 0 failed") != NULL);
}

static const ns_test tests[] = {
    TEST(test_openssl_is_loaded_globally),
    TEST(test_netsocket_tls_exchange_with_openssl_loaded),
    TEST(test_openssl_client_against_netsocket_server),
    TEST(test_netsocket_exchange_with_openssl_preloaded),
};

int main(int argc, char **argv)
{
    /* First of all, before netsocket is used. */
    if (load_openssl() != 0)
        printf("skip: OpenSSL 3 is not usable here (%s)\n", ossl.error);
    signal(SIGPIPE, SIG_IGN);
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(ca_path, sizeof ca_path, "%s/ca.crt", dir);
    ca = certgen_ca("netsocket coexistence CA");
    server_cert = certgen_leaf(ca, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 30);
    client_cert = certgen_leaf(ca, "netsocket coexistence client", NULL, -1, 30);
    int rc = 1;
    if (certgen_write(ca, dir, "ca") == 0)
        rc = ns_test_main(tests, sizeof tests / sizeof tests[0], argc, argv);
    unlink(ca_path);
    snprintf(ca_path, sizeof ca_path, "%s/ca.key", dir);
    unlink(ca_path);
    rmdir(dir);
    certgen_free(ca);
    certgen_free(server_cert);
    certgen_free(client_cert);
    return rc;
}
