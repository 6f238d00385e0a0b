/* System call faults: this executable replaces send, recv, connect,
 * accept4, poll and epoll_wait (the library's calls bind to them; the real
 * ones are found with dlsym(RTLD_NEXT)) and injects EINTR, spurious EAGAIN,
 * ECONNRESET/EPIPE, EMFILE and short reads/writes on chosen descriptors.
 * EINTR must be retried, short writes completed by send_all, resets
 * reported as NS_ERR_CLOSED, and nothing may wait past its timeout. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "certgen.h"
#include "testlib.h"

/* ---- the shim ---- */

enum {
    F_EINTR = 1,       /* one call in four fails with EINTR */
    F_EAGAIN = 2,      /* one call in four fails with a spurious EAGAIN */
    F_SHORT = 4,       /* send moves 1..7 bytes, recv 1..3 */
    F_RESET = 8,       /* recv: ECONNRESET, send: EPIPE */
    F_POLL_STORM = 16, /* poll/epoll_wait always fail with EINTR */
    F_EMFILE = 32,     /* the next accept fails with EMFILE (once) */
};

#define MAX_FAULTY 16
static int faulty_fds[MAX_FAULTY];
static int faults;           /* F_* for the faulty descriptors */
static int fault_connect;    /* connect: report EINTR while it continues */
static int fault_accepted;   /* sockets accepted from a faulty fd are faulty */
static int accept_script;    /* the next accepts fail: EINTR, ECONNABORTED, EAGAIN */
static long ticks, injected; /* calls seen, faults injected */

static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_recv)(int, void *, size_t, int);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*real_poll)(struct pollfd *, nfds_t, int);
static int (*real_epoll_wait)(int, struct epoll_event *, int, int);

__attribute__((constructor)) static void find_real(void)
{
    real_send = dlsym(RTLD_NEXT, "send");
    real_recv = dlsym(RTLD_NEXT, "recv");
    real_connect = dlsym(RTLD_NEXT, "connect");
    real_accept4 = dlsym(RTLD_NEXT, "accept4");
    real_poll = dlsym(RTLD_NEXT, "poll");
    real_epoll_wait = dlsym(RTLD_NEXT, "epoll_wait");
    for (int i = 0; i < MAX_FAULTY; i++)
        faulty_fds[i] = -1;
}

static int is_faulty(int fd)
{
    for (int i = 0; fd >= 0 && i < MAX_FAULTY; i++)
        if (__atomic_load_n(&faulty_fds[i], __ATOMIC_ACQUIRE) == fd)
            return 1;
    return 0;
}

static void make_faulty(int fd)
{
    for (int i = 0; i < MAX_FAULTY; i++) {
        int empty = -1;
        if (__atomic_compare_exchange_n(&faulty_fds[i], &empty, fd, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return;
    }
    abort();
}

static void faults_off(void)
{
    __atomic_store_n(&faults, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&fault_connect, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&fault_accepted, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&accept_script, 0, __ATOMIC_RELEASE);
    for (int i = 0; i < MAX_FAULTY; i++)
        __atomic_store_n(&faulty_fds[i], -1, __ATOMIC_RELEASE);
}

static void faults_on(int f)
{
    __atomic_store_n(&injected, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&faults, f, __ATOMIC_RELEASE);
}

/* The fault for this call on fd (0: none), given which kinds apply. */
static int pick(int fd, int kinds)
{
    int f = __atomic_load_n(&faults, __ATOMIC_ACQUIRE) & kinds;
    if (f == 0 || !is_faulty(fd))
        return 0;
    /* A fixed pseudo-random sequence (a shared counter could fall into a
     * cycle that starves one kind of call). */
    long t = __atomic_add_fetch(&ticks, 1, __ATOMIC_ACQ_REL);
    unsigned long x = (unsigned long)t * 0x9e3779b97f4a7c15ul;
    x ^= x >> 29;
    int dice = (int)((x * 0xbf58476d1ce4e5b9ul) >> 62); /* 0..3 */
    int chosen = 0;
    if (f & F_RESET)
        chosen = F_RESET;
    else if ((f & F_EINTR) && dice == 0)
        chosen = F_EINTR;
    else if ((f & F_EAGAIN) && dice == 1)
        chosen = F_EAGAIN;
    else if (f & F_SHORT)
        chosen = F_SHORT;
    if (chosen)
        __atomic_add_fetch(&injected, 1, __ATOMIC_ACQ_REL);
    return chosen;
}

static long fault_count(void) { return __atomic_load_n(&injected, __ATOMIC_ACQUIRE); }

static ssize_t fail_with(int err)
{
    errno = err;
    return -1;
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    switch (pick(fd, F_EINTR | F_EAGAIN | F_SHORT | F_RESET)) {
    case F_EINTR: return fail_with(EINTR);
    case F_EAGAIN: return fail_with(EAGAIN);
    case F_RESET: return fail_with(EPIPE);
    case F_SHORT: return real_send(fd, buf, len < 7 ? len : 1 + (size_t)__atomic_load_n(&ticks, __ATOMIC_RELAXED) % 7, flags);
    }
    return real_send(fd, buf, len, flags);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    switch (pick(fd, F_EINTR | F_EAGAIN | F_SHORT | F_RESET)) {
    case F_EINTR: return fail_with(EINTR);
    case F_EAGAIN: return fail_with(EAGAIN);
    case F_RESET: return fail_with(ECONNRESET);
    case F_SHORT: return real_recv(fd, buf, len < 3 ? len : 1 + (size_t)__atomic_load_n(&ticks, __ATOMIC_RELAXED) % 3, flags);
    }
    return real_recv(fd, buf, len, flags);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    int rc = real_connect(fd, addr, len);
    /* A signal during connect: the kernel goes on connecting. */
    if (__atomic_load_n(&fault_connect, __ATOMIC_ACQUIRE) && (rc == 0 || errno == EINPROGRESS)) {
        __atomic_add_fetch(&injected, 1, __ATOMIC_ACQ_REL);
        return (int)fail_with(EINTR);
    }
    return rc;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    if (is_faulty(fd) && (__atomic_fetch_and(&faults, ~F_EMFILE, __ATOMIC_ACQ_REL) & F_EMFILE)) {
        __atomic_add_fetch(&injected, 1, __ATOMIC_ACQ_REL);
        return (int)fail_with(EMFILE);
    }
    static const int script[] = {EAGAIN, ECONNABORTED, EINTR};
    int step = is_faulty(fd) ? __atomic_load_n(&accept_script, __ATOMIC_ACQUIRE) : 0;
    if (step > 0) {
        __atomic_store_n(&accept_script, step - 1, __ATOMIC_RELEASE);
        __atomic_add_fetch(&injected, 1, __ATOMIC_ACQ_REL);
        return (int)fail_with(script[step - 1]);
    }
    int conn = real_accept4(fd, addr, len, flags);
    if (conn >= 0 && is_faulty(fd) && __atomic_load_n(&fault_accepted, __ATOMIC_ACQUIRE))
        make_faulty(conn);
    return conn;
}

int poll(struct pollfd *p, nfds_t n, int ms)
{
    int storm = __atomic_load_n(&faults, __ATOMIC_ACQUIRE) & F_POLL_STORM;
    for (nfds_t i = 0; i < n; i++) {
        if (!is_faulty(p[i].fd))
            continue;
        if (storm || pick(p[i].fd, F_EINTR) == F_EINTR) {
            if (storm)
                __atomic_add_fetch(&injected, 1, __ATOMIC_ACQ_REL);
            return (int)fail_with(EINTR);
        }
    }
    return real_poll(p, n, ms);
}

int epoll_wait(int epfd, struct epoll_event *evs, int n, int ms)
{
    if (is_faulty(epfd) && (__atomic_load_n(&faults, __ATOMIC_ACQUIRE) & F_POLL_STORM)) {
        __atomic_add_fetch(&injected, 1, __ATOMIC_ACQ_REL);
        return (int)fail_with(EINTR);
    }
    return real_epoll_wait(epfd, evs, n, ms);
}

/* ---- helpers ---- */

static unsigned char pattern(size_t i) { return (unsigned char)(i * 131 + (i >> 9)); }

typedef struct {
    ns_socket *server;
    int faulty_conn; /* the accepted socket gets the faults too */
    size_t expect;   /* bytes to receive and check, then echo back */
    size_t got;
    int status, pattern_ok;
} sink_job;

static void *sink(void *arg)
{
    sink_job *job = arg;
    ns_socket *conn = ns_socket_accept(job->server);
    job->status = conn ? NS_OK : ns_last_status();
    if (!conn)
        return NULL;
    unsigned char *buf = malloc(job->expect);
    job->pattern_ok = 1;
    while (job->got < job->expect) {
        ssize_t n = ns_socket_recv(conn, buf + job->got, job->expect - job->got, 0);
        if (n <= 0) {
            job->status = n < 0 ? (int)n : NS_ERR_CLOSED;
            break;
        }
        job->got += (size_t)n;
    }
    for (size_t i = 0; i < job->got; i++)
        if (buf[i] != pattern(i))
            job->pattern_ok = 0;
    if (job->got == job->expect && ns_socket_send_all(conn, buf, job->got, 0) != (ssize_t)job->got)
        job->status = ns_last_status();
    free(buf);
    ns_socket_free(conn);
    return NULL;
}

static test_cert *ca, *server_cert;

static ns_options *tls_options(int server)
{
    if (!ca) {
        ca = certgen_ca("faults CA");
        server_cert = certgen_leaf(ca, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 365);
    }
    ns_options *o = blocking_options(server ? NS_SERVER_TLS_SOCKET_OPTIONS : NS_TLS_SOCKET_OPTIONS,
                                     5000000);
    const char *crt = certgen_cert_pem(server ? server_cert : ca);
    if (server) {
        const char *key = certgen_key_pem(server_cert);
        ns_options_add_certificate(o, crt, strlen(crt));
        ns_options_set_private_key(o, key, strlen(key));
    } else {
        ns_options_add_trusted_certificate(o, crt, strlen(crt));
    }
    return o;
}

/* Sends `len` pattern bytes over a (TLS or plain) connection whose client
 * side (and, with both, server side) suffers `f`, and checks every byte
 * arrives and comes back. */
static void exchange_under_faults(int tls, int f, int both, size_t len)
{
    ns_options *so = tls ? tls_options(1) : blocking_options(NS_SOCKET_OPTIONS, 5000000);
    ns_options *co = tls ? tls_options(0) : blocking_options(NS_SOCKET_OPTIONS, 5000000);
    ns_socket *server = tls ? ns_make_server_tls_socket("127.0.0.1", "0", so)
                            : ns_make_server_socket("127.0.0.1", "0", so);
    CHECK(server != NULL);
    if (both) {
        make_faulty(ns_socket_fd(server));
        __atomic_store_n(&fault_accepted, 1, __ATOMIC_RELEASE);
    }
    sink_job job = {.server = server, .expect = len};
    pthread_t t = spawn(sink, &job);
    __atomic_store_n(&fault_connect, 1, __ATOMIC_RELEASE);
    faults_on(f);
    ns_socket *c = tls ? ns_make_client_tls_socket("127.0.0.1", port_of(server), co)
                       : ns_make_client_socket("127.0.0.1", port_of(server), co);
    CHECK(c != NULL);
    make_faulty(ns_socket_fd(c));
    unsigned char *out = malloc(len), *back = malloc(len);
    for (size_t i = 0; i < len; i++)
        out[i] = pattern(i);
    CHECK_EQ(ns_socket_send_all(c, out, len, 0), (long long)len);
    size_t got = 0;
    while (got < len) {
        ssize_t n = ns_socket_recv(c, back + got, len - got, 0);
        CHECK(n > 0);
        got += (size_t)n;
    }
    long seen = fault_count();
    faults_off();
    pthread_join(t, NULL);
    CHECK_EQ(job.status, NS_OK);
    CHECK_EQ(job.got, len);
    CHECK(job.pattern_ok);
    CHECK(memcmp(out, back, len) == 0);
    CHECK(seen > 10); /* the faults really happened */
    free(out);
    free(back);
    ns_socket_free(c);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
}

/* ---- tests ---- */

static void test_send_all_completes_short_writes_despite_eintr_and_eagain(void)
{
    exchange_under_faults(0, F_EINTR | F_EAGAIN | F_SHORT, 0, 256 * 1024);
}

static void test_recv_gathers_short_reads_on_both_sides(void)
{
    exchange_under_faults(0, F_EINTR | F_EAGAIN | F_SHORT, 1, 64 * 1024);
}

static void test_tls_handshake_and_data_survive_every_transient_fault(void)
{
    exchange_under_faults(1, F_EINTR | F_EAGAIN | F_SHORT, 1, 100 * 1024);
}

static void test_connect_interrupted_by_a_signal_still_connects(void)
{
    ns_socket *server = ns_make_server_socket("127.0.0.1", "0", NULL);
    CHECK(server != NULL);
    __atomic_store_n(&fault_connect, 1, __ATOMIC_RELEASE);
    faults_on(0);
    ns_socket *c = ns_make_client_socket("127.0.0.1", port_of(server), NULL);
    long seen = fault_count();
    faults_off();
    CHECK(c != NULL);
    CHECK_EQ(seen, 1);
    CHECK(ns_socket_peer_port(c) == ns_socket_local_port(server));
    ns_socket_free(c);
    /* An interrupted connect to a closed port still reports the refusal. */
    char port[16];
    snprintf(port, sizeof port, "%s", port_of(server));
    ns_socket_free(server);
    __atomic_store_n(&fault_connect, 1, __ATOMIC_RELEASE);
    c = ns_make_client_socket("127.0.0.1", port, NULL);
    faults_off();
    CHECK(c == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_CONNECT);
}

/* A plain server, a blocking client connected to it, and (if asked) the
 * accepted end; every socket with read timeout `timeout_us`. */
typedef struct {
    ns_options *o;
    ns_socket *server, *client, *conn;
} plain_pair;

static int open_pair(plain_pair *p, int64_t timeout_us, int accept_it)
{
    p->o = blocking_options(NS_SOCKET_OPTIONS, timeout_us);
    p->server = ns_make_server_socket("127.0.0.1", "0", p->o);
    p->client = p->server ? ns_make_client_socket("127.0.0.1", port_of(p->server), p->o) : NULL;
    p->conn = p->client && accept_it ? ns_socket_accept(p->server) : NULL;
    return p->client != NULL && (!accept_it || p->conn != NULL);
}

static void close_pair(plain_pair *p)
{
    ns_socket_free(p->conn);
    ns_socket_free(p->client);
    ns_socket_free(p->server);
    ns_options_free(p->o);
}

static void test_accept_retries_eintr_econnaborted_and_spurious_wakeups(void)
{
    plain_pair p;
    CHECK(open_pair(&p, 2000000, 0));
    make_faulty(ns_socket_fd(p.server));
    faults_on(0);
    __atomic_store_n(&accept_script, 3, __ATOMIC_RELEASE);
    p.conn = ns_socket_accept(p.server);
    long seen = fault_count();
    faults_off();
    CHECK(p.conn != NULL);
    CHECK_EQ(seen, 3);
    close_pair(&p);
}

static void test_accept_out_of_descriptors_is_reported_and_recovers(void)
{
    plain_pair p;
    CHECK(open_pair(&p, 2000000, 0));
    make_faulty(ns_socket_fd(p.server));
    faults_on(F_EMFILE);
    CHECK(ns_socket_accept(p.server) == NULL);
    faults_off();
    CHECK_EQ(ns_last_status(), NS_ERR_IO);
    CHECK_EQ(ns_last_os_error(), EMFILE);
    CHECK_ERROR_HAS("Too many open files");
    /* The pending connection is still there once descriptors are free. */
    p.conn = ns_socket_accept(p.server);
    CHECK(p.conn != NULL);
    close_pair(&p);
}

/* A connected pair (plain or TLS) for the reset tests. */
static void reset_case(int tls, int on_send)
{
    ns_options *so = tls ? tls_options(1) : blocking_options(NS_SOCKET_OPTIONS, 2000000);
    ns_options *co = tls ? tls_options(0) : blocking_options(NS_SOCKET_OPTIONS, 2000000);
    ns_socket *server = tls ? ns_make_server_tls_socket("127.0.0.1", "0", so)
                            : ns_make_server_socket("127.0.0.1", "0", so);
    sink_job job = {.server = server, .expect = 1};
    pthread_t t = spawn(sink, &job);
    ns_socket *c = tls ? ns_make_client_tls_socket("127.0.0.1", port_of(server), co)
                       : ns_make_client_socket("127.0.0.1", port_of(server), co);
    CHECK(c != NULL);
    make_faulty(ns_socket_fd(c));
    faults_on(F_RESET);
    char buf[4];
    ssize_t n = on_send ? ns_socket_send(c, "x", 1, 0) : ns_socket_recv(c, buf, sizeof buf, 0);
    faults_off();
    CHECK_EQ(n, NS_ERR_CLOSED);
    CHECK_EQ(ns_last_status(), NS_ERR_CLOSED);
    CHECK_EQ(ns_last_os_error(), on_send ? EPIPE : ECONNRESET);
    ns_socket_free(c); /* the server's recv then ends */
    pthread_join(t, NULL);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
}

static void test_reset_on_recv_is_closed(void) { reset_case(0, 0); }
static void test_epipe_on_send_is_closed(void) { reset_case(0, 1); }
static void test_tls_reset_on_recv_is_closed(void) { reset_case(1, 0); }
static void test_tls_epipe_on_send_is_closed(void) { reset_case(1, 1); }

static void test_real_reset_by_the_peer_is_closed(void)
{
    plain_pair p;
    CHECK(open_pair(&p, 2000000, 1));
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    CHECK_EQ(ns_socket_setsockopt(p.conn, SOL_SOCKET, SO_LINGER, &l, sizeof l), NS_OK);
    ns_socket_free(p.conn); /* RST */
    p.conn = NULL;
    char buf[4];
    CHECK_EQ(ns_socket_recv(p.client, buf, sizeof buf, 0), NS_ERR_CLOSED);
    CHECK_EQ(ns_last_os_error(), ECONNRESET);
    close_pair(&p);
}

/* poll/epoll_wait interrupted without end: every wait still ends on time. */
static void test_eintr_storm_does_not_outlive_the_read_timeout(void)
{
    plain_pair p;
    CHECK(open_pair(&p, 200000, 1));
    make_faulty(ns_socket_fd(p.client));
    faults_on(F_POLL_STORM);
    char buf[4];
    int64_t start = now_us();
    ssize_t n = ns_socket_recv(p.client, buf, sizeof buf, 0);
    int64_t took = now_us() - start;
    long seen = fault_count();
    faults_off();
    CHECK_EQ(n, NS_ERR_READ_TIMEOUT);
    CHECK(took >= 200000 && took < SLACK(1000000));
    CHECK(seen > 0);
    close_pair(&p);
}

static void test_eintr_storm_does_not_outlive_the_tls_handshake_timeout(void)
{
    ns_options *so = tls_options(1);
    ns_options_set_read_timeout(so, 200000);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    CHECK(server != NULL);
    ns_socket *silent = ns_make_client_socket("127.0.0.1", port_of(server), NULL);
    CHECK(silent != NULL);
    make_faulty(ns_socket_fd(server));
    __atomic_store_n(&fault_accepted, 1, __ATOMIC_RELEASE);
    faults_on(F_POLL_STORM);
    int64_t start = now_us();
    ns_socket *conn = ns_socket_accept(server);
    int64_t took = now_us() - start;
    faults_off();
    CHECK(conn == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_READ_TIMEOUT);
    CHECK(took >= 200000 && took < SLACK(1000000));
    ns_socket_free(silent);
    ns_socket_free(server);
    ns_options_free(so);
}

static void test_eintr_storm_does_not_outlive_a_selector_wait(void)
{
    /* epoll_create1 takes the lowest free descriptor: find it first. */
    int probe = open("/dev/null", O_RDONLY);
    CHECK(probe >= 0);
    close(probe);
    ns_selector *sel = ns_selector_new();
    CHECK(sel != NULL);
    make_faulty(probe);
    faults_on(F_POLL_STORM);
    int64_t start = now_us();
    int n = ns_selector_wait(sel, 150000);
    int64_t took = now_us() - start;
    long seen = fault_count();
    faults_off();
    CHECK_EQ(n, 0);
    CHECK(seen > 0);
    CHECK(took >= 150000 && took < SLACK(1000000));
    ns_selector_free(sel);
}

static const ns_test tests[] = {
    TEST(test_send_all_completes_short_writes_despite_eintr_and_eagain),
    TEST(test_recv_gathers_short_reads_on_both_sides),
    TEST(test_tls_handshake_and_data_survive_every_transient_fault),
    TEST(test_connect_interrupted_by_a_signal_still_connects),
    TEST(test_accept_retries_eintr_econnaborted_and_spurious_wakeups),
    TEST(test_accept_out_of_descriptors_is_reported_and_recovers),
    TEST(test_reset_on_recv_is_closed),
    TEST(test_epipe_on_send_is_closed),
    TEST(test_tls_reset_on_recv_is_closed),
    TEST(test_tls_epipe_on_send_is_closed),
    TEST(test_real_reset_by_the_peer_is_closed),
    TEST(test_eintr_storm_does_not_outlive_the_read_timeout),
    TEST(test_eintr_storm_does_not_outlive_the_tls_handshake_timeout),
    TEST(test_eintr_storm_does_not_outlive_a_selector_wait),
};

NS_TEST_MAIN(tests)
