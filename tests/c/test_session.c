/* Session resumption (session.c, and verify.c on resumption) between
 * netsocket peers: clients resume by default per options object, tickets
 * are used once, saved sessions load into options (and bad ones are
 * refused), the verifier runs on every resumed connection on both sides,
 * and a server can turn resumption off. */
#include <stdio.h>

#include "certgen.h"
#include "testlib.h"

static test_cert *ca, *server_cert, *client_cert;

static void setup(void)
{
    if (ca)
        return;
    ca = certgen_ca("netsocket test CA");
    server_cert = certgen_leaf(ca, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 365);
    client_cert = certgen_leaf(ca, "client", "DNS:client.test", -1, 365);
}

static void add_identity(ns_options *o, const test_cert *c)
{
    const char *crt = certgen_cert_pem(c), *key = certgen_key_pem(c);
    if (ns_options_add_certificate(o, crt, strlen(crt)) != NS_OK ||
        ns_options_set_private_key(o, key, strlen(key)) != NS_OK)
        abort();
}

static void trust_ca(ns_options *o)
{
    if (ns_options_add_trusted_certificate(o, certgen_cert_pem(ca), strlen(certgen_cert_pem(ca))) !=
        NS_OK)
        abort();
}

/* Server: accepts `n` connections in turn, echoes one line on each, and
 * records whether each handshake resumed (1/0) or failed (its status). */
typedef struct {
    ns_socket *server;
    pthread_t thread;
    int n;
    int outcome[8];
    char message[8][256];
} server_job;

static void *serve(void *arg)
{
    server_job *job = arg;
    for (int i = 0; i < job->n; i++) {
        ns_socket *conn = ns_socket_accept(job->server);
        job->outcome[i] = conn ? ns_socket_session_reused(conn) : ns_last_status();
        snprintf(job->message[i], sizeof job->message[i], "%s", conn ? "" : ns_last_error());
        if (conn)
            echo_line(conn);
        ns_socket_free(conn);
    }
    return NULL;
}

/* A server from o on 127.0.0.1:port serving n connections in a new thread. */
static int start_server_at(server_job *job, ns_options *o, const char *port, int n)
{
    *job = (server_job){.server = ns_make_server_tls_socket("127.0.0.1", port, o), .n = n};
    if (job->server != NULL)
        job->thread = spawn(serve, job);
    return job->server != NULL;
}

/* The same on a free port, from o (freed). */
static int start_server(server_job *job, ns_options *o, int n)
{
    int ok = start_server_at(job, o, "0", n);
    ns_options_free(o);
    return ok;
}

static ns_options *server_options(void)
{
    ns_options *o = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, SLACK(5000000));
    add_identity(o, server_cert);
    return o;
}

static ns_options *client_options(void)
{
    ns_options *o = blocking_options(NS_TLS_SOCKET_OPTIONS, SLACK(5000000));
    trust_ca(o);
    return o;
}

/* Connects, exchanges a line (which brings the TLS 1.3 tickets) and
 * returns whether the session was resumed (1/0), or a negative status. */
static int visit(ns_options *o, const char *node, ns_socket *server)
{
    ns_socket *c = ns_make_client_tls_socket(node, port_of(server), o);
    if (c == NULL)
        return ns_last_status();
    char buf[8] = {0};
    int reused = ns_socket_session_reused(c);
    int ok = ns_socket_send_all(c, "ping\n", 5, 0) == 5 && ns_socket_recv(c, buf, sizeof buf, 0) == 5;
    ns_socket_free(c);
    return ok ? reused : NS_ERR_IO;
}

static void test_repeat_connections_resume_and_run_the_verifier(void)
{
    setup();
    server_job job;
    CHECK(start_server(&job, server_options(), 4));
    ns_socket *server = job.server;
    ns_options *o = client_options();
    verdict v = {.accept = 1};
    CHECK_EQ(ns_options_set_certificate_verifier(o, verdict_verifier, &v), NS_OK);
    CHECK_EQ(ns_options_get_session_resumption(o), 1);
    CHECK_EQ(visit(o, "127.0.0.1", server), 0);
    CHECK_EQ(v.calls, 2); /* CA and leaf */
    CHECK_EQ(visit(o, "127.0.0.1", server), 1);
    CHECK_EQ(v.calls, 4); /* again, over the session's stored chain */
    /* Another name is another key: no session for it yet. */
    CHECK_EQ(visit(o, "localhost", server), 0);
    CHECK_EQ(visit(o, "127.0.0.1", server), 1);
    CHECK_EQ(v.calls, 8);
    pthread_join(job.thread, NULL);
    int want[] = {0, 1, 0, 1};
    for (int i = 0; i < 4; i++)
        CHECK_EQ(job.outcome[i], want[i]);
    ns_options_free(o);
    ns_socket_free(server);
}

/* A verifier that says no after `resumed` resumed connections stops the
 * next one.  After the first resumed connection the chain is remembered
 * (verdicts.c): its signatures are not checked again, the verifier is. */
static void verifier_changes_its_mind_after(int resumed)
{
    setup();
    server_job job;
    CHECK(start_server(&job, server_options(), resumed + 2));
    ns_socket *server = job.server;
    ns_options *o = client_options();
    verdict v = {.accept = 1};
    CHECK_EQ(ns_options_set_certificate_verifier(o, verdict_verifier, &v), NS_OK);
    CHECK_EQ(visit(o, "127.0.0.1", server), 0);
    for (int i = 0; i < resumed; i++)
        CHECK_EQ(visit(o, "127.0.0.1", server), 1);
    CHECK_EQ(v.calls, 2 + 2 * resumed);
    v.accept = 0;
    CHECK_EQ(visit(o, "127.0.0.1", server), NS_ERR_CERTIFICATE);
    char want[200];
    snprintf(want, sizeof want,
             "TLS handshake with 127.0.0.1:%s: the certificate verifier rejected the certificate "
             "at depth 1 (application verification failure)", port_of(server));
    CHECK_STR(ns_last_error(), want);
    CHECK_EQ(v.calls, 3 + 2 * resumed); /* then the first of the resumed chain said no */
    pthread_join(job.thread, NULL);
    CHECK_EQ(job.outcome[0], 0);
    /* TLS 1.3: the server's handshake was complete when the client
     * checked; the client's alert ends it before any data is exchanged. */
    for (int i = 1; i < resumed + 2; i++)
        CHECK_EQ(job.outcome[i], 1);
    ns_options_free(o);
    ns_socket_free(server);
}

static void test_verifier_that_changes_its_mind_stops_a_resumed_connection(void)
{
    verifier_changes_its_mind_after(0);
}

static void test_verifier_runs_on_a_remembered_chain(void)
{
    verifier_changes_its_mind_after(2);
}

/* Accepts everything, counting the certificates the library faulted. */
static int count_faults(void *userdata, int depth, int preverify_error, const unsigned char *der,
                        size_t len)
{
    (void)depth, (void)der, (void)len;
    *(int *)userdata += preverify_error != 0;
    return 1;
}

/* A chain the library faulted (here: its CA is not trusted) is never
 * remembered: every resumed connection shows the verifier the fault. */
static void test_faulted_chain_is_not_remembered(void)
{
    setup();
    server_job job;
    CHECK(start_server(&job, server_options(), 3));
    ns_socket *server = job.server;
    ns_options *o = blocking_options(NS_TLS_SOCKET_OPTIONS, SLACK(5000000)); /* system store */
    int faults = 0;
    CHECK_EQ(ns_options_set_certificate_verifier(o, count_faults, &faults), NS_OK);
    CHECK_EQ(visit(o, "127.0.0.1", server), 0);
    int per_visit = faults;
    CHECK(per_visit > 0);
    CHECK_EQ(visit(o, "127.0.0.1", server), 1);
    CHECK_EQ(visit(o, "127.0.0.1", server), 1);
    CHECK_EQ(faults, 3 * per_visit);
    pthread_join(job.thread, NULL);
    ns_options_free(o);
    ns_socket_free(server);
}

static void test_changed_options_and_their_copies(void)
{
    setup();
    server_job job;
    CHECK(start_server(&job, server_options(), 4));
    ns_socket *server = job.server;
    ns_options *o = client_options();
    CHECK_EQ(visit(o, "127.0.0.1", server), 0);
    /* An unchanged copy shares the compiled configuration and its sessions. */
    ns_options *copy = ns_options_copy(o, NS_TLS_SOCKET_OPTIONS);
    CHECK_EQ(visit(copy, "127.0.0.1", server), 1);
    /* The same trust anchor, cleared and added again, is still a change:
     * a new configuration, an empty cache. */
    CHECK_EQ(ns_options_clear_trusted_certificates(o), NS_OK);
    trust_ca(o);
    CHECK_EQ(visit(o, "127.0.0.1", server), 0);
    CHECK_EQ(visit(o, "127.0.0.1", server), 1);
    pthread_join(job.thread, NULL);
    ns_options_free(copy);
    ns_options_free(o);
    ns_socket_free(server);
}

static void test_resumption_off_on_either_side(void)
{
    setup();
    ns_options *so = server_options();
    CHECK_EQ(ns_options_set_session_resumption(so, 0), NS_OK);
    server_job job, job2;
    CHECK(start_server(&job, so, 2));
    CHECK(start_server(&job2, server_options(), 2));
    ns_socket *server = job.server, *resuming = job2.server;
    ns_options *o = client_options();
    ns_options *off = client_options();
    CHECK_EQ(ns_options_set_session_resumption(off, 0), NS_OK);
    CHECK_EQ(visit(o, "127.0.0.1", server), 0);
    CHECK_EQ(visit(o, "127.0.0.1", server), 0);
    CHECK_EQ(visit(off, "127.0.0.1", resuming), 0);
    CHECK_EQ(visit(off, "127.0.0.1", resuming), 0);
    pthread_join(job.thread, NULL);
    pthread_join(job2.thread, NULL);
    /* A plain options object has no such field. */
    ns_options *plain = ns_options_new(NS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_set_session_resumption(plain, 0), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "session-resumption? is not a field of socket-options");
    ns_options_free(plain);
    ns_options_free(off);
    ns_options_free(o);
    ns_socket_free(resuming);
    ns_socket_free(server);
}

/* Connects and saves the session after one exchange; returns its size. */
static ssize_t save_after_visit(ns_options *o, ns_socket *server, unsigned char *buf, size_t len)
{
    ns_socket *c = ns_make_client_tls_socket("127.0.0.1", port_of(server), o);
    if (c == NULL)
        return ns_last_status();
    char got[8];
    ssize_t n = ns_socket_save_session(c, buf, len);
    if (n != NS_ERR_INVALID) {
        ns_socket_free(c);
        return NS_ERR_IO; /* TLS 1.3: no ticket before data was read */
    }
    char want[200];
    snprintf(want, sizeof want,
             "save-session with 127.0.0.1:%s: no resumable session (resumption off, or no "
             "ticket yet: TLS 1.3 tickets arrive with the first data received)", port_of(server));
    if (strcmp(ns_last_error(), want) != 0) {
        ns_socket_free(c);
        return NS_ERR_IO;
    }
    if (ns_socket_send_all(c, "ping\n", 5, 0) != 5 || ns_socket_recv(c, got, sizeof got, 0) != 5)
        n = NS_ERR_IO;
    else
        n = ns_socket_save_session(c, buf, len);
    ns_socket_free(c);
    return n;
}

/* Ticket keys belong to one server configuration: a second server from
 * the same options object resumes a ticket, one from other options (the
 * same certificate) does not (SECURITY.md, "Ticket keys"). */
static void test_tickets_belong_to_one_server_options_object(void)
{
    setup();
    ns_options *issuer = server_options(), *other = server_options(), *o = client_options();
    server_job job;
    unsigned char blob[4096];
    CHECK(start_server_at(&job, issuer, "0", 1));
    ssize_t len = save_after_visit(o, job.server, blob, sizeof blob);
    CHECK(len > 0 && (size_t)len <= sizeof blob);
    char port[16];
    snprintf(port, sizeof port, "%s", port_of(job.server));
    pthread_join(job.thread, NULL);
    ns_socket_free(job.server);
    ns_options *servers[2] = {other, issuer};
    for (int resumed = 0; resumed < 2; resumed++) {
        ns_options *fresh = client_options();
        CHECK_EQ(ns_options_add_session(fresh, blob, (size_t)len), NS_OK);
        CHECK(start_server_at(&job, servers[resumed], port, 1));
        CHECK_EQ(visit(fresh, "127.0.0.1", job.server), resumed);
        pthread_join(job.thread, NULL);
        CHECK_EQ(job.outcome[0], resumed);
        ns_socket_free(job.server);
        ns_options_free(fresh);
    }
    ns_options_free(issuer);
    ns_options_free(other);
    ns_options_free(o);
}

static void test_saved_session_loads_into_new_options_and_is_used_once(void)
{
    setup();
    server_job job;
    CHECK(start_server(&job, server_options(), 4));
    ns_socket *server = job.server;
    ns_options *o = client_options();
    unsigned char blob[8192];
    ssize_t size = save_after_visit(o, server, NULL, 0);
    CHECK(size > 100 && size <= (ssize_t)sizeof blob);
    CHECK_EQ(save_after_visit(o, server, blob, sizeof blob), size);
    ns_options_free(o);
    /* A restarted process: new options, the same configuration, the
     * session loaded before the trust anchors (as a builder may). */
    ns_options *fresh = blocking_options(NS_TLS_SOCKET_OPTIONS, SLACK(5000000));
    CHECK_EQ(ns_options_add_session(fresh, blob, (size_t)size), NS_OK);
    trust_ca(fresh);
    ns_socket *c = ns_make_client_tls_socket("127.0.0.1", port_of(server), fresh);
    CHECK(c != NULL);
    CHECK_EQ(ns_socket_session_reused(c), 1);
    ns_socket_free(c); /* closed before reading: no new ticket */
    /* The TLS 1.3 ticket was used once. */
    CHECK_EQ(visit(fresh, "127.0.0.1", server), 0);
    pthread_join(job.thread, NULL);
    ns_options_free(fresh);
    ns_socket_free(server);
}

static void check_refused(ns_options *o, const void *blob, size_t len, const char *message)
{
    CHECK_EQ(ns_options_add_session(o, blob, len), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), message);
}

static void test_bad_saved_sessions_are_refused(void)
{
    setup();
    server_job job;
    CHECK(start_server(&job, server_options(), 2));
    ns_socket *server = job.server;
    ns_options *o = client_options();
    unsigned char blob[8192];
    ssize_t size = save_after_visit(o, server, blob, sizeof blob);
    CHECK(size > 100);
    ns_options *fresh = client_options();
    check_refused(fresh, "hello", 5, "session: not a saved netsocket session");
    check_refused(fresh, NULL, 0, "session: not a saved netsocket session");
    check_refused(fresh, blob, (size_t)size - 1, "session: corrupt (bad length)");
    for (ssize_t at = 12; at < size; at += 97) {
        unsigned char bad[8192];
        memcpy(bad, blob, (size_t)size);
        bad[at] ^= 0x20;
        CHECK_EQ(ns_options_add_session(fresh, bad, (size_t)size), NS_ERR_INVALID);
        CHECK(strncmp(ns_last_error(), "session: corrupt (", 18) == 0);
    }
    ns_options *other_alpn = client_options();
    CHECK_EQ(ns_options_add_alpn(other_alpn, "h2"), NS_OK);
    check_refused(other_alpn, blob, (size_t)size,
                  "session: saved with another ALPN list or client identity than these options have");
    ns_options *with_identity = client_options();
    add_identity(with_identity, client_cert);
    check_refused(with_identity, blob, (size_t)size,
                  "session: saved with another ALPN list or client identity than these options have");
    ns_options *off = client_options();
    CHECK_EQ(ns_options_set_session_resumption(off, 0), NS_OK);
    check_refused(off, blob, (size_t)size, "session: session-resumption? is off in these options");
    ns_options *server_opts = server_options();
    CHECK_EQ(ns_options_add_session(server_opts, blob, (size_t)size), NS_ERR_INVALID);
    /* Nothing was loaded: a full handshake. */
    CHECK_EQ(visit(fresh, "127.0.0.1", server), 0);
    CHECK_EQ(ns_socket_save_session(NULL, NULL, 0), NS_ERR_INVALID);
    CHECK_EQ(ns_socket_session_reused(NULL), 0);
    pthread_join(job.thread, NULL);
    ns_options_free(server_opts);
    ns_options_free(off);
    ns_options_free(with_identity);
    ns_options_free(other_alpn);
    ns_options_free(fresh);
    ns_options_free(o);
    ns_socket_free(server);
}

/* mTLS: the server's verifier runs on resumed connections too, and the
 * session carries the client's certificate. */
static void test_server_verifier_runs_on_resumption(void)
{
    setup();
    ns_options *so = server_options();
    trust_ca(so);
    CHECK_EQ(ns_options_set_client_certificate_required(so, 1), NS_OK);
    verdict v = {.accept = 1};
    CHECK_EQ(ns_options_set_certificate_verifier(so, verdict_verifier, &v), NS_OK);
    server_job job;
    CHECK(start_server(&job, so, 3));
    ns_socket *server = job.server;
    ns_options *o = client_options();
    add_identity(o, client_cert);
    CHECK_EQ(visit(o, "127.0.0.1", server), 0);
    CHECK_EQ(v.calls, 2);
    CHECK_EQ(visit(o, "127.0.0.1", server), 1);
    CHECK_EQ(v.calls, 4);
    __atomic_store_n(&v.accept, 0, __ATOMIC_RELAXED);
    /* TLS 1.3: the client's handshake ends first; the server's verdict
     * arrives as an alert on the first read. */
    int r = visit(o, "127.0.0.1", server);
    pthread_join(job.thread, NULL);
    CHECK_EQ(r, NS_ERR_IO);
    CHECK_EQ(v.calls, 5);
    CHECK_EQ(job.outcome[0], 0);
    CHECK_EQ(job.outcome[1], 1);
    CHECK_EQ(job.outcome[2], NS_ERR_CERTIFICATE);
    /* "TLS handshake with 127.0.0.1:<client port>: <cause>" */
    int port = 0, end = 0;
    CHECK_EQ(sscanf(job.message[2], "TLS handshake with 127.0.0.1:%d: %n", &port, &end), 1);
    CHECK(port > 0 && end > 0);
    CHECK_STR(job.message[2] + end,
              "the certificate verifier rejected the certificate at depth 1 "
              "(application verification failure)");
    ns_options_free(o);
    ns_socket_free(server);
}

static const ns_test tests[] = {
    TEST(test_repeat_connections_resume_and_run_the_verifier),
    TEST(test_verifier_that_changes_its_mind_stops_a_resumed_connection),
    TEST(test_verifier_runs_on_a_remembered_chain),
    TEST(test_faulted_chain_is_not_remembered),
    TEST(test_changed_options_and_their_copies),
    TEST(test_resumption_off_on_either_side),
    TEST(test_saved_session_loads_into_new_options_and_is_used_once),
    TEST(test_bad_saved_sessions_are_refused),
    TEST(test_tickets_belong_to_one_server_options_object),
    TEST(test_server_verifier_runs_on_resumption),
};
NS_TEST_MAIN(tests)
