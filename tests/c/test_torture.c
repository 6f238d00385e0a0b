/* Allocation-failure torture, after libcurl's: each key scenario runs again
 * and again, failing the 1st, 2nd, ... Nth allocation (netsocket's own, libc's
 * on its behalf such as getaddrinfo's, and BoringSSL's inside the library,
 * see alloc_hooks.h) until
 * a run passes untouched.  Every run must end without a crash or a leaked
 * BoringSSL object, with NS_OK (the failure was absorbed) or a clean error
 * status, and the library must work afterwards.  Leaks of plain malloc
 * blocks are caught by the valgrind and ASan phases, which run this too.
 *
 * Under valgrind (NS_TEST_TIME_SCALE > 1) the TLS scenario fails every
 * NS_TORTURE_STRIDE-th allocation (default 5 there, 1 elsewhere) to keep
 * the phase short; the plain build and the ASan build fail every one. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc_hooks.h"
#include "certgen.h"
#include "testlib.h"

#define MAX_RUNS 20000

static test_cert *ca, *server_cert;
static char dir[] = "/tmp/ns-torture-XXXXXX";
static char ca_file[64];

static void remove_dir(void)
{
    char key[sizeof ca_file];
    snprintf(key, sizeof key, "%s/ca.key", dir);
    unlink(ca_file);
    unlink(key);
    rmdir(dir);
}

static void setup(void)
{
    if (ca)
        return;
    ca = certgen_ca("torture CA");
    server_cert = certgen_leaf(ca, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 365);
    if (mkdtemp(dir) == NULL || certgen_write(ca, dir, "ca") != 0)
        abort();
    snprintf(ca_file, sizeof ca_file, "%s/ca.crt", dir);
    atexit(remove_dir);
}

static long stride(void)
{
    const char *s = getenv("NS_TORTURE_STRIDE");
    if (s)
        return atol(s) > 0 ? atol(s) : 1;
    const char *scale = getenv("NS_TEST_TIME_SCALE");
    return scale && atol(scale) > 1 ? 5 : 1;
}

/* What one run may end with when an allocation failed. */
typedef struct {
    const char *name;
    int (*run)(void);   /* NS_OK or the first failing status */
    const int *allowed; /* statuses allowed besides NS_OK and NS_ERR_NOMEM, 0-terminated */
    long step;
} scenario;

/* ---- scenarios ---- */

static int verifier_accept(void *ud, int depth, int err, const unsigned char *der, size_t len)
{
    return err == 0;
}
static int releases;
static void release_count(void *ud) { releases++; }

#define TRY(expr)                                                                          \
    do {                                                                                   \
        int rc_ = (expr);                                                                  \
        if (rc_ != NS_OK) {                                                                \
            rc = rc_;                                                                      \
            goto done;                                                                     \
        }                                                                                  \
    } while (0)

static int options_with_certificates(void)
{
    int rc = NS_OK;
    ns_options *copy = NULL, *o = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    if (o == NULL)
        return ns_last_status();
    const char *crt = certgen_cert_pem(server_cert), *key = certgen_key_pem(server_cert);
    size_t der_len = 0, key_der_len = 0;
    const unsigned char *der = certgen_cert_der(server_cert, &der_len);
    const unsigned char *key_der = certgen_key_der(server_cert, &key_der_len);
    int before = releases;
    TRY(ns_options_set_private_key(o, key, strlen(key)));
    TRY(ns_options_add_certificate(o, crt, strlen(crt)));
    TRY(ns_options_add_certificate(o, certgen_cert_pem(ca), strlen(certgen_cert_pem(ca))));
    TRY(ns_options_set_private_key(o, key_der, key_der_len));
    TRY(ns_options_add_trusted_certificate(o, der, der_len));
    TRY(ns_options_add_trusted_certificate_file(o, ca_file));
    TRY(ns_options_add_sni(o, "localhost"));
    TRY(ns_options_add_alpn(o, "h2"));
    TRY(ns_options_add_alpn(o, "http/1.1"));
    int set = ns_options_set_certificate_verifier_owned(o, verifier_accept, &releases,
                                                        release_count);
    if (set != NS_OK && releases != before + 1)
        abort(); /* the contract: release is called when the setter fails */
    TRY(set);
    if ((copy = ns_options_copy(o, NS_SERVER_TLS_SOCKET_OPTIONS)) == NULL)
        TRY(ns_last_status());
    if (ns_options_certificate_count(copy) != 2 || ns_options_alpn_count(copy) != 2)
        abort();
done:
    ns_options_free(copy);
    ns_options_free(o);
    return rc;
}

static int plain_client_and_server(void)
{
    int rc = NS_OK;
    char buf[8];
    ns_options *o = blocking_options(NS_SOCKET_OPTIONS, 2000000);
    ns_socket *server = NULL, *client = NULL, *conn = NULL;
    if (o == NULL)
        return ns_last_status();
    if ((server = ns_make_server_socket("127.0.0.1", "0", o)) == NULL)
        TRY(ns_last_status());
    /* A name, so getaddrinfo's own allocations are failed too. */
    if ((client = ns_make_client_socket("localhost", port_of(server), o)) == NULL)
        TRY(ns_last_status());
    if ((conn = ns_socket_accept(server)) == NULL)
        TRY(ns_last_status());
    if (ns_socket_send_all(client, "hello", 5, 0) != 5)
        TRY(ns_last_status());
    if (ns_socket_recv(conn, buf, 5, MSG_WAITALL) != 5 || memcmp(buf, "hello", 5) != 0)
        TRY(ns_last_status() ? ns_last_status() : NS_ERR_IO);
done:
    ns_socket_free(conn);
    ns_socket_free(client);
    ns_socket_free(server);
    ns_options_free(o);
    return rc;
}

typedef struct {
    ns_socket *server;
    int accepted, status;
} tls_server_job;

static void *tls_serve(void *arg)
{
    tls_server_job *job = arg;
    struct pollfd p = {.fd = ns_socket_fd(job->server), .events = POLLIN};
    if (poll(&p, 1, 5000) != 1) {
        job->status = NS_ERR_READ_TIMEOUT;
        return NULL;
    }
    ns_socket *conn = ns_socket_accept(job->server);
    __atomic_store_n(&job->accepted, 1, __ATOMIC_RELEASE);
    job->status = conn ? NS_OK : ns_last_status();
    char buf[16];
    ssize_t n = conn ? ns_socket_recv(conn, buf, sizeof buf, 0) : -1;
    if (n > 0 && ns_socket_send_all(conn, buf, (size_t)n, 0) != n)
        job->status = ns_last_status();
    else if (conn && n <= 0)
        job->status = n < 0 ? (int)n : NS_ERR_CLOSED;
    ns_socket_free(conn);
    return NULL;
}

/* Wakes a server thread still waiting in accept: a raw connection that
 * closes at once (no netsocket, no allocation). */
static void poke(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    connect(fd, (struct sockaddr *)&a, sizeof a);
    close(fd);
}

static int counting_verifier(void *ud, int depth, int err, const unsigned char *der, size_t len)
{
    ++*(int *)ud;
    return err == 0;
}

static int tls_handshake_both_sides(void)
{
    int rc = NS_OK;
    ns_options *so = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, 2000000);
    ns_options *co = blocking_options(NS_TLS_SOCKET_OPTIONS, 2000000);
    ns_socket *server = NULL, *client = NULL;
    tls_server_job job = {0};
    pthread_t t;
    int started = 0;
    if (so == NULL || co == NULL)
        TRY(ns_last_status());
    const char *crt = certgen_cert_pem(server_cert), *key = certgen_key_pem(server_cert);
    const char *ca_pem = certgen_cert_pem(ca);
    TRY(ns_options_add_certificate(so, crt, strlen(crt)));
    TRY(ns_options_set_private_key(so, key, strlen(key)));
    TRY(ns_options_add_alpn(so, "h2"));
    TRY(ns_options_add_trusted_certificate(co, ca_pem, strlen(ca_pem)));
    TRY(ns_options_add_sni(co, "localhost"));
    TRY(ns_options_add_alpn(co, "h2"));
    TRY(ns_options_set_connection_timeout(co, 3000000));
    int verifier_calls = 0;
    TRY(ns_options_set_certificate_verifier(co, counting_verifier, &verifier_calls));
    if ((server = ns_make_server_tls_socket("127.0.0.1", "0", so)) == NULL)
        TRY(ns_last_status());
    job.server = server;
    /* pthread_create's own allocations are not the library's. */
    int state = alloc_pause();
    t = spawn(tls_serve, &job);
    alloc_resume(state);
    started = 1;
    if ((client = ns_make_client_tls_socket("127.0.0.1", port_of(server), co)) == NULL)
        TRY(ns_last_status());
    char buf[8] = {0};
    if (ns_socket_send_all(client, "ping", 4, 0) != 4)
        TRY(ns_last_status());
    ssize_t n = ns_socket_recv(client, buf, sizeof buf, 0);
    if (n != 4 || memcmp(buf, "ping", 4) != 0)
        TRY(n < 0 ? (int)n : NS_ERR_CLOSED);
    if (verifier_calls == 0) { /* the verifier must never be skipped */
        fprintf(stderr, "  handshake succeeded without calling the verifier\n");
        TRY(NS_ERR_IO);
    }
    const char *alpn = ns_socket_selected_alpn(client);
    if (alpn == NULL || strcmp(alpn, "h2") != 0) {
        /* A handshake that succeeds must not silently drop a feature. */
        fprintf(stderr, "  ALPN not negotiated (%s)\n", alpn ? alpn : "none");
        TRY(NS_ERR_IO);
    }
done:
    if (started) {
        int port = ns_socket_local_port(server);
        if (!__atomic_load_n(&job.accepted, __ATOMIC_ACQUIRE) && port > 0)
            poke(port);
        pthread_join(t, NULL);
        if (rc == NS_OK && job.status != NS_OK)
            rc = job.status;
    }
    ns_socket_free(client);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
    return rc;
}

static int selector_with_clients(void)
{
    int rc = NS_OK;
    enum { N = 3 };
    ns_options *o = blocking_options(NS_SOCKET_OPTIONS, 2000000);
    ns_socket *server = NULL, *clients[N] = {0}, *conns[N] = {0};
    ns_selector *sel = ns_selector_new();
    if (o == NULL || sel == NULL)
        TRY(ns_last_status());
    if ((server = ns_make_server_socket("127.0.0.1", "0", o)) == NULL)
        TRY(ns_last_status());
    for (int i = 0; i < N; i++) {
        if ((clients[i] = ns_make_client_socket("127.0.0.1", port_of(server), o)) == NULL)
            TRY(ns_last_status());
        if ((conns[i] = ns_socket_accept(server)) == NULL)
            TRY(ns_last_status());
        /* The last one never becomes readable: it times out. */
        TRY(ns_selector_add(sel, conns[i], i == N - 1 ? 1000 : -1, &conns[i]));
    }
    for (int i = 0; i < N - 1; i++)
        if (ns_socket_send_all(clients[i], "x", 1, 0) != 1)
            TRY(ns_last_status());
    int events = 0;
    for (int rounds = 0; events < N && rounds < 50; rounds++) {
        int n = ns_selector_wait(sel, 100000);
        if (n < 0)
            TRY(n);
        events += n;
    }
    if (events != N || ns_selector_count(sel) != 0)
        abort();
    TRY(ns_selector_add(sel, conns[0], -1, NULL));
    TRY(ns_selector_remove(sel, conns[0]));
done:
    for (int i = 0; i < N; i++) {
        ns_socket_free(conns[i]);
        ns_socket_free(clients[i]);
    }
    ns_socket_free(server);
    ns_selector_free(sel);
    ns_options_free(o);
    return rc;
}

/* ---- the driver ---- */

static int allowed(const scenario *sc, int status)
{
    if (status == NS_ERR_NOMEM)
        return 1;
    /* BoringSSL's ASN.1 code fails some allocations without saying so (only
     * NESTED_ASN1_ERROR is queued): a parse then reports bad data, and
     * installing a certificate in a context reports that it cannot. */
    static const char *const silent[] = {"not a valid PEM", "neither PEM nor", "TLS: cannot use"};
    for (size_t i = 0; status == NS_ERR_INVALID && i < sizeof silent / sizeof silent[0]; i++)
        if (strstr(ns_last_error(), silent[i]))
            return 1;
    for (const int *a = sc->allowed; a && *a; a++)
        if (*a == status)
            return 1;
    return 0;
}

/* The libc blocks live grew when allocation n failed.  glibc keeps some
 * state made the first time a failure sends it down another path
 * (getaddrinfo past an /etc/hosts it could not open): the same failure
 * again must not grow the count further, or it is a leak. */
static int libc_leaked(const scenario *sc, long n, int rc)
{
    long grown = alloc_libc_live();
    alloc_arm(n);
    sc->run();
    alloc_disarm();
    if (alloc_libc_live() == grown)
        return 0;
    fprintf(stderr, "  %s failing allocation %ld: %ld libc blocks leaked (%s)\n", sc->name, n,
            alloc_libc_live() - grown, ns_status_name(rc));
    ns_test_failed = 1;
    return 1;
}

static void torture(const scenario *sc)
{
    setup();
    /* One untouched run first: lazily made state (the BIO method, error
     * queues, ex_data indices) is not a leak. */
    if (sc->run() != NS_OK) {
        fprintf(stderr, "  %s fails untouched: %s\n", sc->name, ns_last_error());
        ns_test_failed = 1;
        return;
    }
    long live = alloc_bssl_live(), libc_live = alloc_libc_live();
    int runs = 0, nomem = 0, absorbed = 0, other = 0;
    /* NS_TORTURE_FROM=n starts at the n-th allocation (to replay one run). */
    long from = getenv("NS_TORTURE_FROM") ? atol(getenv("NS_TORTURE_FROM")) : 1;
    for (long n = from > 0 ? from : 1; n < MAX_RUNS; n += sc->step) {
        ns_clear_error();
        alloc_arm(n);
        int rc = sc->run();
        alloc_disarm();
        runs++;
        int injected = alloc_injected();
        if (alloc_bssl_live() != live) {
            fprintf(stderr, "  %s failing allocation %ld: %ld BoringSSL blocks leaked (%s)\n",
                    sc->name, n, alloc_bssl_live() - live, ns_status_name(rc));
            ns_test_failed = 1;
            return;
        }
        /* netsocket's own blocks (and libc's on its behalf), where the
         * libc hooks reach them: the plain build's torture both fails
         * them and checks them for leaks (valgrind and ASan cannot). */
        if (alloc_libc_hooked() && alloc_libc_live() != libc_live && libc_leaked(sc, n, rc))
            return;
        libc_live = alloc_libc_live();
        if (!injected) {
            if (rc != NS_OK) {
                fprintf(stderr, "  %s: untouched run failed: %s\n", sc->name, ns_last_error());
                ns_test_failed = 1;
                return;
            }
            printf("  %s: %d runs (%ld allocations, every %ld): %d NS_ERR_NOMEM, %d other "
                   "errors, %d absorbed\n",
                   sc->name, runs, n, sc->step, nomem, other, absorbed);
            return;
        }
        if (rc == NS_OK) {
            absorbed++;
        } else if (allowed(sc, rc)) {
            rc == NS_ERR_NOMEM ? nomem++ : other++;
        } else {
            fprintf(stderr, "  %s failing allocation %ld: status %s (%s)\n", sc->name, n,
                    ns_status_name(rc), ns_last_error());
            ns_test_failed = 1;
            return;
        }
        /* The library is still usable: a fresh object works at once. */
        ns_options *o = ns_options_new(NS_TLS_SOCKET_OPTIONS);
        if (o == NULL || ns_options_add_sni(o, "ok") != NS_OK) {
            fprintf(stderr, "  %s: library unusable after failing allocation %ld\n", sc->name, n);
            ns_test_failed = 1;
            ns_options_free(o);
            return;
        }
        ns_options_free(o);
    }
    fprintf(stderr, "  %s: still failing after %d runs\n", sc->name, runs);
    ns_test_failed = 1;
}

static void test_torture_options_with_certificates(void)
{
    static const int ok[] = {0};
    scenario sc = {"options", options_with_certificates, ok, 1};
    torture(&sc);
}

static void test_torture_plain_client_and_server_sockets(void)
{
    /* getaddrinfo reports some failed allocations as "not found". */
    static const int ok[] = {NS_ERR_HOST_NOT_FOUND, 0};
    scenario sc = {"plain sockets", plain_client_and_server, ok, 1};
    torture(&sc);
}

static void test_torture_tls_handshake_both_sides(void)
{
    /* A side that fails mid-handshake is seen by the other as a TLS
     * failure or a closed connection; a failed allocation while building
     * the chain fails closed, as a rejected certificate. */
    static const int ok[] = {NS_ERR_HOST_NOT_FOUND, NS_ERR_TLS, NS_ERR_CLOSED,
                             NS_ERR_CERTIFICATE, 0};
    scenario sc = {"TLS handshake", tls_handshake_both_sides, ok, stride()};
    torture(&sc);
}

static void test_torture_selector(void)
{
    static const int ok[] = {NS_ERR_HOST_NOT_FOUND, 0};
    scenario sc = {"selector", selector_with_clients, ok, 1};
    torture(&sc);
}

static void test_hooks_see_the_library_allocations(void)
{
    /* Proves the interception works: without it the torture proves nothing. */
    alloc_arm(0);
    ns_options *o = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    long libc_seen = alloc_disarm();
    CHECK(o != NULL);
    printf("  libc allocations %s\n", alloc_libc_hooked() ? "counted and failed" : "not reachable here (BoringSSL's only)");
    if (alloc_libc_hooked() && libc_seen < 1) {
        ns_options_free(o);
        CHECK(libc_seen >= 1);
    }
    setup();
    const char *key = certgen_key_pem(server_cert);
    /* Warm up: the first parse makes lasting state (error queue, tables). */
    CHECK_EQ(ns_options_set_private_key(o, key, strlen(key)), NS_OK);
    ns_options_free(o);
    o = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    long live = alloc_bssl_live();
    alloc_arm(0);
    CHECK_EQ(ns_options_set_private_key(o, key, strlen(key)), NS_OK);
    CHECK(alloc_disarm() > 0);
    CHECK(alloc_bssl_live() > live);
    ns_options_free(o);
    CHECK_EQ(alloc_bssl_live(), live);
}

static const ns_test tests[] = {
    TEST(test_hooks_see_the_library_allocations),
    TEST(test_torture_options_with_certificates),
    TEST(test_torture_plain_client_and_server_sockets),
    TEST(test_torture_selector),
    TEST(test_torture_tls_handshake_both_sides),
};

NS_TEST_MAIN(tests)
