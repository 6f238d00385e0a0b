/* Item 12: the time to connect to a name whose first address never
 * answers.  In user + mount + network namespaces of its own (loopback only,
 * tests/c/netns.h): dual.test is ::1 then 127.0.0.1; [::1]:P drops SYNs (a
 * listener with a full accept queue) and 127.0.0.1:P accepts.  netsocket
 * (ns_make_client_socket with ai-family AF_UNSPEC: Happy Eyeballs v2, the
 * second attempt 250 ms after the first) against
 *  - a sequential connect: each address in getaddrinfo's order with 1 s per
 *    attempt, as socket.create_connection(timeout=1) does, and
 *  - a raw connect() straight to the healthy 127.0.0.1:P, the floor.
 * Figures are milliseconds per connection (lower is better); the goal is
 * netsocket < 350 ms.  Where no namespace can be made the row says skipped. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "benchlib.h"
#include "netns.h"
#include "netsocket.h"

#define ITEM "12 Happy Eyeballs (C)"
#define GOAL_MS 350.0

typedef struct {
    char service[16];
    int healthy; /* the 127.0.0.1 listener: each connection is accepted and closed */
} target;

static void accept_one(const target *t)
{
    int fd = accept(t->healthy, NULL, NULL);
    if (fd < 0)
        bench_die("accept");
    close(fd);
}

static double netsocket_connect(void *arg)
{
    target *t = arg;
    ns_options *o = ns_options_new(NS_SOCKET_OPTIONS);
    ns_options_set_ai_family(o, AF_UNSPEC); /* both families (the default is AF_INET) */
    ns_options_set_connection_timeout(o, 5000000);
    double t0 = bench_now();
    ns_socket *s = ns_make_client_socket("dual.test", t->service, o);
    double took = bench_now() - t0;
    char peer[64] = "";
    if (s == NULL || ns_socket_peer_address(s, peer, sizeof peer) != NS_OK ||
        strcmp(peer, "127.0.0.1") != 0) {
        fprintf(stderr, "bench_happy_eyeballs: %s\n", s ? peer : ns_last_error());
        exit(1);
    }
    ns_socket_free(s);
    ns_options_free(o);
    accept_one(t);
    return took * 1e3;
}

/* One non-blocking connect that waits at most timeout_ms; the fd or -1. */
static int connect_within(const struct addrinfo *ai, int timeout_ms)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        bench_die("socket");
    int err = 0;
    socklen_t len = sizeof err;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (errno != EINPROGRESS || poll(&p, 1, timeout_ms) != 1 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

static double sequential_connect(void *arg)
{
    target *t = arg;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    double t0 = bench_now();
    if (getaddrinfo("dual.test", t->service, &hints, &res) != 0)
        bench_die("getaddrinfo");
    int fd = -1;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
        fd = connect_within(ai, 1000);
    double took = bench_now() - t0;
    freeaddrinfo(res);
    if (fd < 0)
        bench_die("sequential connect");
    close(fd);
    accept_one(t);
    return took * 1e3;
}

static double raw_connect(void *arg)
{
    target *t = arg;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(t->service)),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    double t0 = bench_now();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        bench_die("connect");
    double took = bench_now() - t0;
    close(fd);
    accept_one(t);
    return took * 1e3;
}

/* The healthy listener on 127.0.0.1, on the port the blackhole has on ::1. */
static int listen_healthy(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0)
        bench_die("listen on 127.0.0.1");
    return fd;
}

/* The sequential baseline is only a contrast if ::1 comes first. */
static void check_first_address_is_ipv6(const target *t)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo("dual.test", t->service, &hints, &res) != 0)
        bench_die("getaddrinfo");
    int family = res->ai_family;
    freeaddrinfo(res);
    if (family != AF_INET6) {
        fprintf(stderr, "bench_happy_eyeballs: getaddrinfo does not give ::1 first\n");
        exit(1);
    }
}

static void row(const char *figure, double ns, double base, double ratio, const char *target)
{
    char a[32], b[32], r[32];
    snprintf(a, sizeof a, "%.1f ms", ns);
    snprintf(b, sizeof b, base >= 1 ? "%.1f ms" : "%.3f ms", base);
    snprintf(r, sizeof r, "%.3f", ratio);
    bench_row_text(ITEM, figure, a, b, r, target);
}

int main(int argc, char **argv)
{
    bench_args args;
    bench_parse_args(argc, argv, &args);
    bench_header(&args);
    if (netns_enter("::1 dual.test\n127.0.0.1 dual.test\n", "nameserver 127.0.0.1\n") != 0) {
        char why[160];
        snprintf(why, sizeof why, "skipped: no user/network namespace here (%s)", strerror(errno));
        bench_row_text(ITEM, why, "", "", "", "");
        return 0;
    }
    int blackhole = netns_blackhole(AF_INET6, "::1", 0);
    if (blackhole < 0)
        bench_die("blackhole on ::1");
    target t = {.healthy = listen_healthy(netns_bound_port(blackhole))};
    snprintf(t.service, sizeof t.service, "%d", netns_bound_port(blackhole));
    check_first_address_is_ipv6(&t);

    double ns, seq, ns2, raw;
    double r_seq = bench_alternate(args.runs, netsocket_connect, &t, sequential_connect, &t, &ns,
                                   &seq);
    double r_raw = bench_alternate(args.runs, netsocket_connect, &t, raw_connect, &t, &ns2, &raw);
    char goal[48];
    snprintf(goal, sizeof goal, "netsocket < %.0f ms %s", GOAL_MS,
             ns < GOAL_MS ? "met" : "**missed**");
    row("connect, first address (::1) blackholed, vs sequential (1 s per address)", ns, seq,
        r_seq, goal);
    row("the same, vs raw connect() to the healthy 127.0.0.1", ns2, raw, r_raw,
        "(for reference)");
    close(t.healthy);
    close(blackhole);
    return 0;
}
