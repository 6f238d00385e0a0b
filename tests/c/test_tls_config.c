/* What options compile to (tls_config.c): built once, shared by the sockets
 * made from the options and their copies, rebuilt after a change, and safe
 * while other threads connect with the same options object. */
#include <stdio.h>

#include "certgen.h"
#include "testlib.h"

static test_cert *ca, *server_cert, *other_ca;

static void setup(void)
{
    if (ca)
        return;
    ca = certgen_ca("netsocket test CA");
    server_cert = certgen_leaf(ca, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 365);
    other_ca = certgen_ca("another CA");
}

static int trust(ns_options *o, const test_cert *c)
{
    const char *crt = certgen_cert_pem(c);
    return ns_options_add_trusted_certificate(o, crt, strlen(crt));
}

static ns_socket *tls_server(void)
{
    ns_options *o = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, SLACK(5000000));
    const char *crt = certgen_cert_pem(server_cert), *key = certgen_key_pem(server_cert);
    ns_socket *s = NULL;
    if (ns_options_add_certificate(o, crt, strlen(crt)) == NS_OK &&
        ns_options_set_private_key(o, key, strlen(key)) == NS_OK)
        s = ns_make_server_tls_socket("127.0.0.1", "0", o);
    ns_options_free(o);
    return s;
}

/* Accepts `n` connections in turn (successful or not), echoing one line. */
typedef struct {
    ns_socket *server;
    int n, accepted;
} server_job;

static void *serve(void *arg)
{
    server_job *job = arg;
    for (int i = 0; i < job->n; i++) {
        ns_socket *conn = ns_socket_accept(job->server);
        if (conn == NULL)
            continue;
        job->accepted++;
        echo_line(conn);
        ns_socket_free(conn);
    }
    return NULL;
}

static int round_trip(ns_socket *c)
{
    char buf[16] = {0};
    return ns_socket_send_all(c, "ping\n", 5, 0) == 5 &&
           ns_socket_recv(c, buf, sizeof buf, 0) == 5 && memcmp(buf, "ping\n", 5) == 0;
}

static int connect_once(ns_options *o, const char *port)
{
    ns_socket *c = ns_make_client_tls_socket("127.0.0.1", port, o);
    int ok = c != NULL && round_trip(c);
    ns_socket_free(c);
    return ok;
}

static void test_changed_options_apply_to_later_sockets_only(void)
{
    setup();
    ns_socket *server = tls_server();
    CHECK(server != NULL);
    server_job job = {.server = server, .n = 3};
    pthread_t t = spawn(serve, &job);
    ns_options *o = blocking_options(NS_TLS_SOCKET_OPTIONS, SLACK(5000000));
    CHECK_EQ(trust(o, ca), NS_OK);
    CHECK(connect_once(o, port_of(server)));
    ns_options *copy = ns_options_copy(o, NS_TLS_SOCKET_OPTIONS);
    CHECK(copy != NULL);
    /* The change reaches the next socket made from o, not the copy. */
    CHECK_EQ(ns_options_clear_trusted_certificates(o), NS_OK);
    CHECK_EQ(trust(o, other_ca), NS_OK);
    CHECK(ns_make_client_tls_socket("127.0.0.1", port_of(server), o) == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_CERTIFICATE);
    char want[160];
    snprintf(want, sizeof want,
             "TLS handshake with 127.0.0.1:%s: certificate rejected at depth 0: "
             "unable to get local issuer certificate", port_of(server));
    CHECK_STR(ns_last_error(), want);
    CHECK(connect_once(copy, port_of(server)));
    pthread_join(t, NULL);
    CHECK_EQ(job.accepted, 2);
    ns_options_free(copy);
    ns_options_free(o);
    ns_socket_free(server);
}

static int accept_chain(void *userdata, int depth, int preverify_error, const unsigned char *der,
                        size_t der_len)
{
    (void)userdata, (void)depth, (void)der, (void)der_len;
    return preverify_error == 0;
}
static void log_nothing(void *userdata, const char *line) { (void)userdata, (void)line; }

/* ns_socket_get_certificate_verifier / _key_log_callback: what a socket
 * was made with (for a binding's GC), whatever the options hold later. */
static void test_a_socket_reports_the_verifier_and_key_log_it_was_made_with(void)
{
    setup();
    int verifier_data = 0, log_data = 0, other = 0;
    void *ud = &other;
    ns_socket *server = tls_server();
    CHECK(server != NULL);
    CHECK(ns_socket_get_certificate_verifier(server, &ud) == NULL && ud == NULL);
    CHECK(ns_socket_get_key_log_callback(server, NULL) == NULL);
    CHECK(ns_socket_get_certificate_verifier(NULL, NULL) == NULL);
    CHECK(ns_socket_get_key_log_callback(NULL, NULL) == NULL);
    server_job job = {.server = server, .n = 1};
    pthread_t t = spawn(serve, &job);
    ns_options *o = blocking_options(NS_TLS_SOCKET_OPTIONS, SLACK(5000000));
    CHECK_EQ(trust(o, ca), NS_OK);
    CHECK_EQ(ns_options_set_certificate_verifier_owned(o, accept_chain, &verifier_data, NULL), NS_OK);
    CHECK_EQ(ns_options_set_key_log_callback(o, log_nothing, &log_data, NULL), NS_OK);
    ns_socket *c = ns_make_client_tls_socket("127.0.0.1", port_of(server), o);
    CHECK(c != NULL && round_trip(c));
    CHECK_EQ(ns_options_set_certificate_verifier(o, NULL, NULL), NS_OK);
    CHECK_EQ(ns_options_set_key_log_callback(o, NULL, NULL, NULL), NS_OK);
    ns_options_free(o);
    CHECK(ns_socket_get_certificate_verifier(c, &ud) == accept_chain && ud == &verifier_data);
    CHECK(ns_socket_get_key_log_callback(c, &ud) == log_nothing && ud == &log_data);
    CHECK_EQ(ns_socket_close(c), NS_OK);
    CHECK(ns_socket_get_certificate_verifier(c, NULL) == accept_chain); /* held until freed */
    ns_socket_free(c);
    pthread_join(t, NULL);
    ns_socket_free(server);
}

/* Many threads connect with one options object while another changes it:
 * each socket is made from one consistent state (TSan checks the rest). */
enum { CLIENTS = 4, CONNECTS = 12 };

typedef struct {
    ns_options *o;
    char port[16];
    int ok, rejected, other;
} client_job;

static void *connect_many(void *arg)
{
    client_job *job = arg;
    /* Connected while the trust anchors were cleared: rejected by the
     * library, or by the verifier when one was set. */
    char want[160], want_verifier[200];
    snprintf(want, sizeof want,
             "TLS handshake with 127.0.0.1:%s: certificate rejected at depth 0: "
             "unable to get local issuer certificate", job->port);
    snprintf(want_verifier, sizeof want_verifier,
             "TLS handshake with 127.0.0.1:%s: the certificate verifier rejected the "
             "certificate at depth 0 (unable to get local issuer certificate)", job->port);
    for (int i = 0; i < CONNECTS; i++) {
        ns_socket *c = ns_make_client_tls_socket("127.0.0.1", job->port, job->o);
        if (c != NULL && round_trip(c))
            job->ok++;
        else if (c == NULL && ns_last_status() == NS_ERR_CERTIFICATE &&
                 (strcmp(ns_last_error(), want) == 0 || strcmp(ns_last_error(), want_verifier) == 0))
            job->rejected++;
        else {
            job->other++;
            fprintf(stderr, "  unexpected: %s: %s\n", ns_status_name(ns_last_status()),
                    ns_last_error());
        }
        ns_socket_free(c);
    }
    return NULL;
}

typedef struct {
    ns_options *o;
    volatile int stop;
    int changes;
} mutator_job;

static int accept_all(void *u, int d, int e, const unsigned char *der, size_t len)
{
    (void)u, (void)d, (void)der, (void)len;
    return e == 0;
}

static void *mutate(void *arg)
{
    mutator_job *job = arg;
    int64_t end = now_us() + SLACK(60000000);
    while (!__atomic_load_n(&job->stop, __ATOMIC_ACQUIRE) && now_us() < end &&
           job->changes < 100000) {
        ns_options_clear_trusted_certificates(job->o);
        trust(job->o, ca);
        ns_options_add_alpn(job->o, "x-test");
        ns_options_clear_alpn(job->o);
        ns_options_set_certificate_verifier(job->o, job->changes % 2 ? accept_all : NULL, NULL);
        ns_options_add_sni(job->o, "localhost");
        ns_options_clear_sni(job->o);
        ns_options_set_read_timeout(job->o, SLACK(5000000));
        job->changes++;
    }
    return NULL;
}

static void test_threads_connect_while_another_changes_the_options(void)
{
    setup();
    ns_socket *server = tls_server();
    CHECK(server != NULL);
    server_job sjob = {.server = server, .n = CLIENTS * CONNECTS};
    pthread_t st = spawn(serve, &sjob);
    ns_options *o = blocking_options(NS_TLS_SOCKET_OPTIONS, SLACK(5000000));
    CHECK_EQ(trust(o, ca), NS_OK);
    mutator_job mjob = {.o = o};
    pthread_t mt = spawn(mutate, &mjob);
    client_job cjobs[CLIENTS];
    pthread_t ct[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        cjobs[i] = (client_job){.o = o};
        snprintf(cjobs[i].port, sizeof cjobs[i].port, "%s", port_of(server));
        ct[i] = spawn(connect_many, &cjobs[i]);
    }
    int ok = 0, rejected = 0, other = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(ct[i], NULL);
        ok += cjobs[i].ok, rejected += cjobs[i].rejected, other += cjobs[i].other;
    }
    __atomic_store_n(&mjob.stop, 1, __ATOMIC_RELEASE);
    pthread_join(mt, NULL);
    pthread_join(st, NULL);
    CHECK_EQ(ok + rejected, CLIENTS * CONNECTS);
    CHECK_EQ(other, 0);
    CHECK_EQ(sjob.accepted, ok);
    CHECK(mjob.changes > 0);
    /* Quiet again: every connection succeeds. */
    CHECK_EQ(ns_options_trusted_certificate_count(o), 1);
    ns_options_free(o);
    ns_socket_free(server);
}

static const ns_test tests[] = {
    TEST(test_changed_options_apply_to_later_sockets_only),
    TEST(test_a_socket_reports_the_verifier_and_key_log_it_was_made_with),
    TEST(test_threads_connect_while_another_changes_the_options),
};
NS_TEST_MAIN(tests)
