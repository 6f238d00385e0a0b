/* Server identities: a certificate per name chosen by the client's SNI
 * (exact, wildcard, explicit names, default), bad identities refused, and
 * rotation of a running server's identities, also under many handshakes
 * during repeated swaps (each handshake sees one whole set). */
#include <unistd.h>

#include "certgen.h"
#include "testlib.h"

static test_cert *ca, *mid_a, *mid_b, *def, *a, *wild, *rot_a, *rot_b;

static void setup(void)
{
    if (ca)
        return;
    ca = certgen_ca("netsocket identities CA");
    mid_a = certgen_intermediate(ca, "intermediate A");
    mid_b = certgen_intermediate(ca, "intermediate B");
    def = certgen_leaf(ca, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 365);
    a = certgen_leaf(ca, "a.test", "DNS:a.test", -1, 365);
    wild = certgen_leaf(ca, "*.b.test", "DNS:*.b.test", -1, 365);
    rot_a = certgen_leaf(mid_a, "x.test", "DNS:x.test", -1, 365);
    rot_b = certgen_leaf(mid_b, "x.test", "DNS:x.test", -1, 365);
}

static char *chain_of(const test_cert *leaf, const test_cert *mid)
{
    static char buf[4][8192];
    static unsigned next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s%s", certgen_cert_pem(leaf), mid ? certgen_cert_pem(mid) : "");
    return b;
}

static int add_identity(ns_options *o, const test_cert *leaf, const test_cert *mid)
{
    const char *chain = chain_of(leaf, mid), *key = certgen_key_pem(leaf);
    return ns_options_add_identity(o, chain, strlen(chain), key, strlen(key));
}

/* Server options: default identity `d`, blocking, read timeout 5 s. */
static ns_options *server_options(const test_cert *d, const test_cert *d_mid)
{
    setup();
    ns_options *o = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, SLACK(5000000));
    const char *chain = chain_of(d, d_mid), *key = certgen_key_pem(d);
    if (ns_options_add_certificate(o, chain, strlen(chain)) ||
        ns_options_set_private_key(o, key, strlen(key)))
        abort();
    return o;
}

/* Accepts until `stop`, echoing a line on each; records the last choice. */
typedef struct {
    ns_socket *server;
    int n, accepted, last_index;
    char last_name[64];
} server_job;

static void *serve(void *arg)
{
    server_job *job = arg;
    for (int i = 0; i < job->n; i++) {
        ns_socket *conn = ns_socket_accept(job->server);
        if (conn == NULL)
            continue;
        job->accepted++;
        job->last_index = ns_socket_identity_index(conn);
        const char *name = ns_socket_server_name(conn);
        snprintf(job->last_name, sizeof job->last_name, "%s", name ? name : "");
        echo_line(conn);
        ns_socket_free(conn);
    }
    return NULL;
}

/* Connects with SNI `name` (NULL: none, by IP), verifying the certificate
 * for that name against the CA; returns the socket or NULL. */
static ns_socket *connect_as(ns_socket *server, const char *name)
{
    ns_options *co = blocking_options(NS_TLS_SOCKET_OPTIONS, SLACK(5000000));
    ns_options_set_connection_timeout(co, SLACK(10000000));
    const char *anchor = certgen_cert_pem(ca);
    ns_options_add_trusted_certificate(co, anchor, strlen(anchor));
    if (name)
        ns_options_add_sni(co, name);
    ns_socket *c = ns_make_client_tls_socket("127.0.0.1", port_of(server), co);
    ns_options_free(co);
    return c;
}

/* One exchange as `name`; 1 if it verified and the server used cert `want`. */
static int served(ns_socket *server, const char *name, const test_cert *want)
{
    ns_socket *c = connect_as(server, name);
    size_t len = 0;
    const unsigned char *der = c ? ns_socket_peer_certificate(c, &len) : NULL;
    int ok = der && certgen_is(want, der, len) && send_text(c, "hi\n");
    char buf[8];
    ok = ok && ns_socket_recv(c, buf, sizeof buf, 0) == 3;
    ns_socket_free(c);
    return ok;
}

static void test_sni_picks_the_identity(void)
{
    ns_options *so = server_options(def, NULL);
    CHECK_EQ(add_identity(so, a, NULL), NS_OK);
    CHECK_EQ(add_identity(so, wild, NULL), NS_OK);
    CHECK_EQ(ns_options_identity_count(so), 2);
    CHECK_EQ(ns_options_identity_name_count(so, 1), 1);
    CHECK_STR(ns_options_get_identity_name(so, 1, 0), "*.b.test");
    size_t len = 0;
    const unsigned char *der = ns_options_get_identity_certificate(so, 0, 0, &len);
    CHECK(certgen_is(a, der, len));
    server_job job = {.server = ns_make_server_tls_socket("127.0.0.1", "0", so), .n = 4};
    ns_options_free(so);
    CHECK(job.server != NULL);
    pthread_t t = spawn(serve, &job);
    int exact = served(job.server, "a.test", a);
    int exact_index = job.last_index;
    int wildcard = served(job.server, "X.B.test", wild);
    char wild_name[64];
    snprintf(wild_name, sizeof wild_name, "%s", job.last_name);
    int wild_index = job.last_index;
    int no_sni = served(job.server, NULL, def);
    int no_sni_index = job.last_index;
    int unmatched = served(job.server, "localhost", def); /* no identity has it */
    pthread_join(t, NULL);
    ns_socket_free(job.server);
    CHECK(exact);
    CHECK_EQ(exact_index, 0);
    CHECK(wildcard);
    CHECK_EQ(wild_index, 1);
    CHECK_STR(wild_name, "X.B.test");
    CHECK(no_sni);
    CHECK_EQ(no_sni_index, -1);
    CHECK(unmatched);
    CHECK_EQ(job.last_index, -1);
    CHECK_STR(job.last_name, "localhost");
}

/* A wildcard covers one label: b.test and y.z.b.test get the default. */
static int accept_all(void *ud, int depth, int err, const unsigned char *der, size_t len)
{
    return 1;
}

static void test_wildcard_covers_exactly_one_label(void)
{
    ns_options *so = server_options(def, NULL);
    CHECK_EQ(add_identity(so, wild, NULL), NS_OK);
    server_job job = {.server = ns_make_server_tls_socket("127.0.0.1", "0", so), .n = 2};
    ns_options_free(so);
    pthread_t t = spawn(serve, &job);
    const char *names[] = {"b.test", "y.z.b.test"};
    int indexes[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        ns_options *co = blocking_options(NS_TLS_SOCKET_OPTIONS, SLACK(5000000));
        ns_options_set_certificate_verifier(co, accept_all, NULL);
        ns_options_add_sni(co, names[i]);
        ns_socket *c = ns_make_client_tls_socket("127.0.0.1", port_of(job.server), co);
        ns_options_free(co);
        size_t len = 0;
        const unsigned char *der = c ? ns_socket_peer_certificate(c, &len) : NULL;
        indexes[i] = der && certgen_is(def, der, len);
        char buf[8];
        if (c && send_text(c, "hi\n"))
            ns_socket_recv(c, buf, sizeof buf, 0);
        ns_socket_free(c);
    }
    pthread_join(t, NULL);
    ns_socket_free(job.server);
    CHECK_EQ(indexes[0], 1);
    CHECK_EQ(indexes[1], 1);
}

static void test_explicit_names_replace_the_certificates(void)
{
    ns_options *so = server_options(def, NULL);
    CHECK_EQ(add_identity(so, a, NULL), NS_OK);
    CHECK_STR(ns_options_get_identity_name(so, 0, 0), "a.test");
    CHECK_EQ(ns_options_add_identity_name(so, 0, "alias.test"), NS_OK);
    CHECK_EQ(ns_options_add_identity_name(so, 0, "*.alias.test"), NS_OK);
    CHECK_EQ(ns_options_identity_name_count(so, 0), 2);
    CHECK_STR(ns_options_get_identity_name(so, 0, 0), "alias.test");
    server_job job = {.server = ns_make_server_tls_socket("127.0.0.1", "0", so), .n = 1};
    ns_options_free(so);
    pthread_t t = spawn(serve, &job);
    ns_options *co = blocking_options(NS_TLS_SOCKET_OPTIONS, SLACK(5000000));
    ns_options_set_certificate_verifier(co, accept_all, NULL);
    ns_options_add_sni(co, "alias.test");
    ns_socket *c = ns_make_client_tls_socket("127.0.0.1", port_of(job.server), co);
    ns_options_free(co);
    size_t len = 0;
    const unsigned char *der = c ? ns_socket_peer_certificate(c, &len) : NULL;
    int is_a = der && certgen_is(a, der, len);
    char buf[8];
    if (c && send_text(c, "hi\n"))
        ns_socket_recv(c, buf, sizeof buf, 0);
    ns_socket_free(c);
    pthread_join(t, NULL);
    ns_socket_free(job.server);
    CHECK(is_a);
    CHECK_EQ(job.last_index, 0);
}

static void test_bad_identities_change_nothing(void)
{
    setup();
    ns_options *so = server_options(def, NULL);
    CHECK_EQ(add_identity(so, a, NULL), NS_OK);
    const char *chain = certgen_cert_pem(a), *other_key = certgen_key_pem(wild);
    CHECK_EQ(ns_options_add_identity(so, chain, strlen(chain), other_key, strlen(other_key)),
             NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "identity: the private key does not match the first certificate");
    CHECK_EQ(ns_options_add_identity(so, chain, strlen(chain), NULL, 0), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "identity: a private key is required");
    CHECK_EQ(ns_options_add_identity(so, "junk", 4, other_key, strlen(other_key)), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "identity: neither PEM nor a DER certificate: HEADER_TOO_LONG");
    CHECK_EQ(ns_options_add_identity_name(so, 1, "x.test"), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "identities: no identity 1 (there are 1)");
    CHECK_EQ(ns_options_add_identity_name(so, 0, ""), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "identities: a name is 1..255 bytes");
    CHECK_EQ(ns_options_identity_count(so), 1);
    CHECK_EQ(ns_options_identity_name_count(so, 0), 1);
    ns_options *copy = ns_options_copy(so, NS_SERVER_TLS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_identity_count(copy), 1);
    CHECK_EQ(ns_options_clear_identities(copy), NS_OK);
    CHECK_EQ(ns_options_identity_count(copy), 0);
    CHECK_EQ(ns_options_identity_count(so), 1);
    ns_options_free(copy);
    ns_options_free(so);

    ns_options *co = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    const char *key = certgen_key_pem(a);
    CHECK_EQ(ns_options_add_identity(co, chain, strlen(chain), key, strlen(key)), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "identities is not a field of tls-socket-options");
    ns_options_free(co);
}

static void test_rotation_serves_new_handshakes_and_keeps_open_ones(void)
{
    ns_options *so = server_options(def, NULL);
    server_job job = {.server = ns_make_server_tls_socket("127.0.0.1", "0", so), .n = 1};
    CHECK(job.server != NULL);
    /* An open connection from before the swap. */
    pthread_t t = spawn(serve, &job);
    ns_socket *before = connect_as(job.server, "localhost");
    CHECK(before != NULL);

    ns_options *renewed = server_options(rot_a, mid_a);
    CHECK_EQ(add_identity(renewed, a, NULL), NS_OK);
    CHECK_EQ(ns_socket_replace_identities(job.server, renewed), NS_OK);
    char buf[8] = {0};
    int still = send_text(before, "hi\n") && ns_socket_recv(before, buf, sizeof buf, 0) == 3;
    ns_socket_free(before);
    pthread_join(t, NULL);
    CHECK(still);

    job.n = 2;
    t = spawn(serve, &job);
    int new_default = served(job.server, "x.test", rot_a);
    int new_identity = served(job.server, "a.test", a);
    pthread_join(t, NULL);
    CHECK(new_default);
    CHECK(new_identity);

    /* Bad rotations change nothing. */
    ns_options *keyless = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    CHECK_EQ(ns_socket_replace_identities(job.server, keyless), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "TLS server: certificates and a private key (the default "
                               "identity) are required");
    CHECK_EQ(ns_socket_replace_identities(job.server, NULL), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "ns_socket_replace_identities: server-tls-socket-options required");
    job.n = 1;
    t = spawn(serve, &job);
    int unchanged = served(job.server, "x.test", rot_a);
    pthread_join(t, NULL);
    CHECK(unchanged);
    ns_socket *plain = ns_make_server_socket("127.0.0.1", "0", NULL);
    CHECK_EQ(ns_socket_replace_identities(plain, renewed), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "ns_socket_replace_identities: not a listening TLS server socket");
    ns_socket_free(plain);
    ns_options_free(keyless);
    ns_options_free(renewed);
    ns_options_free(so);
    ns_socket_free(job.server);
}

/* Two sets whose x.test chains go through different intermediates: a
 * handshake mixing them (A's leaf with B's chain or key) fails to verify. */
typedef struct {
    ns_socket *server;
    ns_options *sets[2];
    int stop; /* atomic */
    int swaps;
} swapper_job;

static void *swap_repeatedly(void *arg)
{
    swapper_job *job = arg;
    for (int i = 0; !__atomic_load_n(&job->stop, __ATOMIC_ACQUIRE) && i < 100000; i++) {
        if (ns_socket_replace_identities(job->server, job->sets[i & 1]) == NS_OK)
            job->swaps++;
        usleep(200);
    }
    return NULL;
}

typedef struct {
    ns_socket *server;
    int n, ok, with_a, with_b;
} client_job;

static void *handshake_repeatedly(void *arg)
{
    client_job *job = arg;
    for (int i = 0; i < job->n; i++) {
        ns_socket *c = connect_as(job->server, "x.test");
        size_t len = 0;
        const unsigned char *der = c ? ns_socket_peer_certificate(c, &len) : NULL;
        int is_a = der && certgen_is(rot_a, der, len), is_b = der && certgen_is(rot_b, der, len);
        char buf[8];
        if (c && (is_a || is_b) && send_text(c, "hi\n") && ns_socket_recv(c, buf, sizeof buf, 0) == 3) {
            job->ok++;
            job->with_a += is_a;
            job->with_b += is_b;
        }
        ns_socket_free(c);
    }
    return NULL;
}

static void test_many_handshakes_during_repeated_swaps(void)
{
    setup();
    enum { CLIENTS = 2, EACH = 60 };
    swapper_job sw = {.sets = {server_options(def, NULL), server_options(def, NULL)}};
    CHECK_EQ(add_identity(sw.sets[0], rot_a, mid_a), NS_OK);
    CHECK_EQ(add_identity(sw.sets[1], rot_b, mid_b), NS_OK);
    sw.server = ns_make_server_tls_socket("127.0.0.1", "0", sw.sets[0]);
    CHECK(sw.server != NULL);
    server_job sj = {.server = sw.server, .n = CLIENTS * EACH};
    pthread_t st = spawn(serve, &sj), swt = spawn(swap_repeatedly, &sw), ct[CLIENTS];
    client_job cj[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        cj[i] = (client_job){.server = sw.server, .n = EACH};
        ct[i] = spawn(handshake_repeatedly, &cj[i]);
    }
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(ct[i], NULL);
    __atomic_store_n(&sw.stop, 1, __ATOMIC_RELEASE);
    pthread_join(swt, NULL);
    pthread_join(st, NULL);
    ns_socket_free(sw.server);
    ns_options_free(sw.sets[0]);
    ns_options_free(sw.sets[1]);
    int ok = 0, with_a = 0, with_b = 0;
    for (int i = 0; i < CLIENTS; i++) {
        ok += cj[i].ok;
        with_a += cj[i].with_a;
        with_b += cj[i].with_b;
    }
    CHECK_EQ(ok, CLIENTS * EACH);
    CHECK_EQ(sj.accepted, CLIENTS * EACH);
    CHECK(sw.swaps > 10);
    CHECK(with_a > 0 && with_b > 0);
}

static const ns_test tests[] = {
    TEST(test_sni_picks_the_identity),
    TEST(test_wildcard_covers_exactly_one_label),
    TEST(test_explicit_names_replace_the_certificates),
    TEST(test_bad_identities_change_nothing),
    TEST(test_rotation_serves_new_handshakes_and_keeps_open_ones),
    TEST(test_many_handshakes_during_repeated_swaps),
};

int main(int argc, char **argv)
{
    setup(); /* the certificates are arguments of the tests' first calls */
    return ns_test_main(tests, sizeof tests / sizeof tests[0], argc, argv);
}
