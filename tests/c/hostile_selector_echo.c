/* examples/selector_echo_server (the shipped binary) with bad clients
 * while good ones are served, all at once:
 *  - two that send a lot and never read (plain and TLS): the write timeout;
 *  - a TLS client that sends half a record after its handshake: the idle
 *    timeout;
 *  - a raw client that sends half a ClientHello, and one that connects to
 *    the TLS port and never speaks: the handshake deadline;
 *  - a raw client that connects to the plain port and never speaks: the
 *    idle timeout.
 * Every good client's bytes must come back; each bad client must be dropped
 * at its deadline, not before and not much after; and the server must not
 * spin meanwhile: its CPU time stays under a tenth of the wall time.
 *   hostile_selector_echo PATH/TO/selector_echo_server */
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "certgen.h"
#include "example_server.h"
#include "testlib.h"

/* The server's limits, given through its environment. */
#define HANDSHAKE_MS 1000
#define IDLE_MS 2000
#define WRITE_MS 1000
/* How late a drop may come: the server shares a busy machine. */
#define LATE_MS 1500

enum { ROUNDS = 12, GOOD = 2 * ROUNDS, PAYLOAD = 64 * 1024, CHUNK = 8192 };

static const char *server_path;
static example_server srv; /* cleaned up by main if a test ends early */

/* ---- good clients: every byte echoed, checked ---- */

typedef struct {
    int plain_port, tls_port;
    const char *ca_pem;
    int ok;      /* clients whose every byte came back */
    long echoed; /* bytes that came back as sent */
} good_job;

static int recv_exactly(ns_socket *s, unsigned char *buf, size_t len)
{
    size_t got = 0;
    for (int i = 0; i < 1000 && got < len; i++) {
        ssize_t n = ns_socket_recv(s, buf + got, len - got, 0);
        if (n <= 0)
            return 0;
        got += (size_t)n;
    }
    return got == len;
}

static int echo_payload(ns_socket *s, int id, long *echoed)
{
    unsigned char out[CHUNK], in[CHUNK];
    for (size_t off = 0; off < PAYLOAD; off += CHUNK) {
        for (size_t i = 0; i < CHUNK; i++)
            out[i] = (unsigned char)(id * 31 + (off + i) * 7);
        if (ns_socket_send_all(s, out, CHUNK, 0) != CHUNK || !recv_exactly(s, in, CHUNK) ||
            memcmp(in, out, CHUNK) != 0)
            return 0;
        *echoed += CHUNK;
    }
    return 1;
}

static ns_options *client_options(ns_options_kind kind, const char *ca_pem)
{
    ns_options *o = blocking_options(kind, 5000000);
    ns_options_set_write_timeout(o, 5000000);
    ns_options_set_connection_timeout(o, 5000000);
    if (ca_pem)
        ns_options_add_trusted_certificate(o, ca_pem, strlen(ca_pem));
    return o;
}

/* A plain and a TLS client every 250 ms, so that good clients come and go
 * through the bad clients' whole lifetime. */
static void *run_good(void *arg)
{
    good_job *job = arg;
    ns_options *po = client_options(NS_SOCKET_OPTIONS, NULL);
    ns_options *to = client_options(NS_TLS_SOCKET_OPTIONS, job->ca_pem);
    char plain[16], tls[16];
    snprintf(plain, sizeof plain, "%d", job->plain_port);
    snprintf(tls, sizeof tls, "%d", job->tls_port);
    int64_t give_up = now_us() + 15000000;
    /* Stops after a round with a failure: a frozen server costs one. */
    for (int r = 0; r < ROUNDS && job->ok == 2 * r && now_us() < give_up; r++) {
        int64_t next = now_us() + 250000;
        for (int k = 0; k < 2; k++) {
            ns_socket *s = k ? ns_make_client_tls_socket("localhost", tls, to)
                             : ns_make_client_socket("127.0.0.1", plain, po);
            if (s && echo_payload(s, 2 * r + k, &job->echoed))
                job->ok++;
            else
                fprintf(stderr, "  good client %d: %s\n", 2 * r + k, ns_last_error());
            ns_socket_free(s);
        }
        while (now_us() < next)
            usleep(10000);
    }
    ns_options_free(po);
    ns_options_free(to);
    return NULL;
}

/* ---- bad clients ---- */

typedef struct {
    const char *name;
    int64_t deadline_ms; /* the server's limit that must drop it */
    ns_socket *s;        /* a netsocket client, or NULL for a raw one */
    int fd;              /* watched for the server's end */
    int pump;            /* keeps sending, never reads */
    int64_t bad_since;   /* when it stopped behaving */
    int64_t dropped_at;
} bad_client;

static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void raw_client(bad_client *c, const char *name, int port, int64_t deadline_ms,
                       const void *bytes, size_t len)
{
    *c = (bad_client){.name = name, .deadline_ms = deadline_ms, .bad_since = now_us()};
    c->fd = raw_connect(port);
    if (c->fd >= 0 && len > 0 && send(c->fd, bytes, len, MSG_NOSIGNAL) != (ssize_t)len) {
        close(c->fd);
        c->fd = -1;
    }
}

/* Sends the same bytes until the socket is full (a TLS retry must repeat
 * them: it does); stops pumping once the server is gone. */
static void pump(bad_client *c)
{
    static const unsigned char junk[16384];
    for (int i = 0; i < 2000 && c->pump; i++) {
        ssize_t n = ns_socket_send(c->s, junk, sizeof junk, 0);
        if (n == NS_ERR_WOULD_BLOCK)
            return;
        if (n < 0)
            c->pump = 0;
    }
}

/* A client that writes and never reads; its own receive buffer is small
 * so that the server's output backs up at once. */
static void stop_reader(bad_client *c, const char *name, const char *port, ns_options *o)
{
    *c = (bad_client){.name = name, .deadline_ms = WRITE_MS, .fd = -1, .bad_since = now_us()};
    c->s = ns_socket_connect(o, "localhost", port);
    if (c->s == NULL)
        return;
    int small = 16384;
    ns_socket_setsockopt(c->s, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    ns_socket_set_non_blocking(c->s, 1);
    c->fd = ns_socket_fd(c->s);
    c->pump = 1;
    pump(c);
}

/* A TLS client that is served once, then sends 8 bytes of a 69-byte
 * application-data record and nothing more. */
static void half_record(bad_client *c, const char *port, ns_options *o)
{
    *c = (bad_client){.name = "half a TLS record", .deadline_ms = IDLE_MS, .fd = -1};
    c->s = ns_socket_connect(o, "localhost", port);
    static const unsigned char part[] = {0x17, 0x03, 0x03, 0x00, 0x40, 0x01, 0x02, 0x03};
    if (c->s == NULL || !send_text(c->s, "ping") || !recv_text(c->s, "ping"))
        return;
    c->bad_since = now_us();
    c->fd = ns_socket_fd(c->s);
    if (send(c->fd, part, sizeof part, MSG_NOSIGNAL) != (ssize_t)sizeof part)
        c->fd = -1;
}

/* Records when the server ended a bad client's connection (FIN or RST). */
static int watch_drops(bad_client *bad, int n)
{
    int left = 0;
    for (int i = 0; i < n; i++) {
        if (bad[i].dropped_at || bad[i].fd < 0)
            continue;
        pump(&bad[i]);
        struct pollfd p = {.fd = bad[i].fd, .events = POLLRDHUP};
        if (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
            bad[i].dropped_at = now_us();
        else
            left++;
    }
    return left;
}

static void free_bad(bad_client *bad, int n)
{
    for (int i = 0; i < n; i++) {
        if (bad[i].s)
            ns_socket_free(bad[i].s);
        else if (bad[i].fd >= 0)
            close(bad[i].fd);
    }
}

static void set_limit(const char *name, int ms)
{
    char v[16];
    snprintf(v, sizeof v, "%d", ms);
    setenv(name, v, 1);
}

enum { BAD = 6 };

static void test_bad_clients_are_dropped_at_their_deadlines_while_others_are_served(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_cert *ca = certgen_ca("hostile echo CA");
    test_cert *leaf = certgen_leaf(ca, "localhost", "DNS:localhost", -1, 30);
    set_limit("ECHO_MAX_CONNECTIONS", GOOD + BAD);
    set_limit("ECHO_HANDSHAKE_MS", HANDSHAKE_MS);
    set_limit("ECHO_IDLE_MS", IDLE_MS);
    set_limit("ECHO_WRITE_MS", WRITE_MS);
    CHECK_EQ(example_server_start(&srv, server_path, leaf), 0);
    char plain[16], tls[16];
    snprintf(plain, sizeof plain, "%d", srv.plain_port);
    snprintf(tls, sizeof tls, "%d", srv.tls_port);
    ns_options *po = client_options(NS_SOCKET_OPTIONS, NULL);
    ns_options *to = client_options(NS_TLS_SOCKET_OPTIONS, certgen_cert_pem(ca));

    static const unsigned char half_hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01};
    bad_client bad[BAD];
    stop_reader(&bad[0], "plain, never reads", plain, po);
    stop_reader(&bad[1], "TLS, never reads", tls, to);
    half_record(&bad[2], tls, to);
    raw_client(&bad[3], "half a ClientHello", srv.tls_port, HANDSHAKE_MS, half_hello,
               sizeof half_hello);
    raw_client(&bad[4], "silent on the TLS port", srv.tls_port, HANDSHAKE_MS, NULL, 0);
    raw_client(&bad[5], "silent on the plain port", srv.plain_port, IDLE_MS, NULL, 0);

    good_job job = {.plain_port = srv.plain_port, .tls_port = srv.tls_port,
                    .ca_pem = certgen_cert_pem(ca)};
    pthread_t good = spawn(run_good, &job);
    int64_t give_up = now_us() + (IDLE_MS + LATE_MS + 1000) * 1000LL;
    for (int i = 0; i < 1000 && watch_drops(bad, BAD) > 0 && now_us() < give_up; i++)
        usleep(20000);
    pthread_join(good, NULL);
    int64_t cpu_us = 0;
    int status = example_server_reap(&srv, 5000000, &cpu_us);
    int64_t wall_us = now_us() - srv.started_us;
    char said[64];
    snprintf(said, sizeof said, "served %d connections", GOOD + BAD);
    int served = example_server_said(&srv, said);

    printf("  good clients: %d of %d, %ld of %ld bytes echoed\n", job.ok, GOOD, job.echoed,
           (long)GOOD * PAYLOAD);
    for (int i = 0; i < BAD; i++)
        printf("  %-26s dropped after %5lld ms (deadline %lld ms)\n", bad[i].name,
               bad[i].dropped_at ? (long long)(bad[i].dropped_at - bad[i].bad_since) / 1000 : -1,
               (long long)bad[i].deadline_ms);
    printf("  server: exit %d, CPU %lld ms in %lld ms wall\n", status, (long long)cpu_us / 1000,
           (long long)wall_us / 1000);
    free_bad(bad, BAD);
    ns_options_free(po);
    ns_options_free(to);
    example_server_cleanup(&srv);
    certgen_free(ca);
    certgen_free(leaf);

    CHECK_EQ(job.ok, GOOD);
    CHECK_EQ(job.echoed, (long)GOOD * PAYLOAD);
    CHECK(cpu_us * 10 < wall_us); /* spinning is the failure */
    for (int i = 0; i < BAD; i++) {
        int64_t after_ms = (bad[i].dropped_at - bad[i].bad_since) / 1000;
        CHECK(bad[i].fd >= 0);
        CHECK(bad[i].dropped_at > 0);
        CHECK(after_ms >= bad[i].deadline_ms);
        CHECK(after_ms <= bad[i].deadline_ms + LATE_MS);
    }
    CHECK_EQ(status, 0);
    CHECK(served);
}

static const ns_test tests[] = {
    TEST(test_bad_clients_are_dropped_at_their_deadlines_while_others_are_served),
};

EXAMPLE_SERVER_TEST_MAIN(tests, server_path, srv)
