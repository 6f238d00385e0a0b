#include "benchlib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "certgen.h"

void bench_parse_args(int argc, char **argv, bench_args *a)
{
    *a = (bench_args){.runs = 7};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            a->quick = 1;
            a->runs = 1;
        } else if (strcmp(argv[i], "--rows-only") == 0) {
            a->rows_only = 1;
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            a->runs = atoi(argv[++i]);
            if (a->runs < 1)
                a->runs = 1;
        } else {
            fprintf(stderr, "usage: %s [--quick] [--runs N] [--rows-only]\n", argv[0]);
            exit(2);
        }
    }
}

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_alternate(int runs, bench_fn a, void *arg_a, bench_fn b, void *arg_b, double *ma,
                       double *mb)
{
    double *va = calloc((size_t)runs, sizeof *va), *vb = calloc((size_t)runs, sizeof *vb);
    double *vr = calloc((size_t)runs, sizeof *vr);
    if (va == NULL || vb == NULL || vr == NULL)
        bench_die("out of memory");
    for (int i = 0; i < runs; i++) {
        if (i % 2 == 0) {
            va[i] = a(arg_a);
            vb[i] = b(arg_b);
        } else {
            vb[i] = b(arg_b);
            va[i] = a(arg_a);
        }
        vr[i] = vb[i] > 0 ? va[i] / vb[i] : 0;
        if (getenv("NS_BENCH_VERBOSE"))
            fprintf(stderr, "  run %d: netsocket %.1f, baseline %.1f, ratio %.3f\n", i + 1, va[i],
                    vb[i], vr[i]);
    }
    *ma = bench_median(va, runs);
    *mb = bench_median(vb, runs);
    double ratio = bench_median(vr, runs);
    free(va);
    free(vb);
    free(vr);
    return ratio;
}

void bench_header(const bench_args *a)
{
    if (a->rows_only)
        return;
    printf("| item | figure | netsocket | baseline | ratio | target |\n");
    printf("|---|---|---:|---:|---:|---|\n");
    fflush(stdout);
}

static void fmt_value(char *buf, size_t len, double v, const char *unit)
{
    if (v >= 100)
        snprintf(buf, len, "%.0f %s", v, unit);
    else if (v >= 1)
        snprintf(buf, len, "%.2f %s", v, unit);
    else
        snprintf(buf, len, "%.4f %s", v, unit);
}

void bench_row(const char *item, const char *figure, const char *unit, double ns, double base,
               double ratio, int higher, double target)
{
    char a[64], b[64], r[64], t[48];
    fmt_value(a, sizeof a, ns, unit);
    fmt_value(b, sizeof b, base, unit);
    int met = higher ? ratio >= target : ratio <= target;
    double of_medians = base > 0 ? ns / base : 0;
    if (ratio > 0 && (of_medians > ratio * 1.1 || of_medians < ratio / 1.1))
        snprintf(r, sizeof r, "%.3f (noisy: medians give %.3f)", ratio, of_medians);
    else
        snprintf(r, sizeof r, "%.3f", ratio);
    snprintf(t, sizeof t, "%s %.2f %s", higher ? ">=" : "<=", target, met ? "met" : "**missed**");
    bench_row_text(item, figure, a, b, r, t);
}

void bench_row_text(const char *item, const char *figure, const char *ns, const char *base,
                    const char *ratio, const char *target)
{
    printf("| %s | %s | %s | %s | %s | %s |\n", item, figure, ns, base, ratio, target);
    fflush(stdout);
}

void bench_die(const char *what)
{
    fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

long bench_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        bench_die("getrlimit");
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        bench_die("setrlimit");
    return (long)rl.rlim_cur;
}

void bench_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int bench_listen(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int one = 1;
    if (fd < 0)
        bench_die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 4096) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        bench_die("bind/listen");
    *port = ntohs(sa.sin_port);
    return fd;
}

int bench_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        bench_die("connect");
    bench_nodelay(fd);
    return fd;
}

int bench_accept(int lfd)
{
    int fd;
    do
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        bench_die("accept");
    bench_nodelay(fd);
    return fd;
}

int bench_read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

int bench_write_full(int fd, const void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

pthread_t bench_spawn(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    if (pthread_create(&t, NULL, fn, arg) != 0)
        bench_die("pthread_create");
    return t;
}

void bench_make_certs(bench_certs *c)
{
    test_cert *ca = certgen_ca("netsocket bench CA");
    test_cert *leaf = ca ? certgen_leaf(ca, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 30)
                         : NULL;
    if (leaf == NULL)
        bench_die("certificate generation");
    c->ca = ca;
    c->leaf = leaf;
    c->ca_pem = certgen_cert_pem(ca);
    c->leaf_pem = certgen_cert_pem(leaf);
    c->key_pem = certgen_key_pem(leaf);
}

void bench_free_certs(bench_certs *c)
{
    certgen_free(c->ca);
    certgen_free(c->leaf);
    *c = (bench_certs){0};
}

size_t bench_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (f == NULL || fscanf(f, "%lu %lu", &size, &resident) != 2)
        bench_die("/proc/self/statm");
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}
