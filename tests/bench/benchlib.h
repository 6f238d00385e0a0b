/* Shared helpers for the benchmark programs: arguments, clocks, medians of
 * alternating runs, the result table, loopback plumbing and certificates.
 * Benchmarks are measurements, not tests: nothing here asserts a time. */
#ifndef NS_BENCHLIB_H
#define NS_BENCHLIB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    int quick;     /* --quick: tiny sizes, one run each; for the ctest smoke test */
    int runs;      /* --runs N: alternating runs per variant (default 7) */
    int rows_only; /* --rows-only: no table header (run.sh prints one) */
} bench_args;

void bench_parse_args(int argc, char **argv, bench_args *a);
/* Seconds on the monotonic clock. */
double bench_now(void);
/* Seconds of CPU time used by this process (all its threads). */
double bench_cpu_now(void);
/* Median of v[0..n) (sorts v). */
double bench_median(double *v, int n);

/* One measured variant: returns its figure (higher is better unless the
 * row says otherwise) for one run. */
typedef double (*bench_fn)(void *arg);
/* Runs a and b `runs` times each, alternating (a b, b a, a b, ...) so that
 * drift and warm-up fall on both alike; medians into *ma and *mb.  Returns
 * the median of the per-pair ratios a/b, which this noisy machine's slow
 * swings (2x between minutes) disturb far less than a ratio of medians.
 * With NS_BENCH_VERBOSE set in the environment, each pair goes to stderr. */
double bench_alternate(int runs, bench_fn a, void *arg_a, bench_fn b, void *arg_b, double *ma,
                     double *mb);

/* The table: | item | figure | netsocket | baseline | ratio | target |. */
void bench_header(const bench_args *a);
/* A ratio row: medians of netsocket and baseline, the ratio (from
 * bench_alternate); `higher` says which way is better; target is the
 * ratio the issue asks for.  When the ratio of the two medians is more
 * than 10% away from the median of the pair ratios (runs swinging between
 * fast and slow phases of the machine), the ratio column says so. */
void bench_row(const char *item, const char *figure, const char *unit, double ns, double base,
               double ratio, int higher, double target);
/* A free-form row (memory: an absolute target). */
void bench_row_text(const char *item, const char *figure, const char *ns, const char *base,
                    const char *ratio, const char *target);

/* Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft limit. */
long bench_raise_nofile(void);
/* A loopback listener on an ephemeral port (raw socket, blocking). */
int bench_listen(int *port);
/* A blocking raw TCP connection to 127.0.0.1:port (TCP_NODELAY set). */
int bench_connect(int port);
/* accept() with TCP_NODELAY set. */
int bench_accept(int lfd);
void bench_nodelay(int fd);
/* Reads/writes exactly len bytes on a blocking fd; 0 ok, -1 error/EOF. */
int bench_read_full(int fd, void *buf, size_t len);
int bench_write_full(int fd, const void *buf, size_t len);
pthread_t bench_spawn(void *(*fn)(void *), void *arg);
void bench_die(const char *what);

/* A CA and a leaf for "localhost" and 127.0.0.1 signed by it (ECDSA P-256),
 * made at run time with the test certificate generator. */
typedef struct test_cert test_cert;
typedef struct {
    const char *ca_pem, *leaf_pem, *key_pem; /* valid until bench_free_certs */
    test_cert *ca, *leaf;
} bench_certs;
void bench_make_certs(bench_certs *c);
void bench_free_certs(bench_certs *c);

/* Resident set size of this process in bytes. */
size_t bench_rss(void);

#endif
