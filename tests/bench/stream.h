/* Stream workloads run identically over every variant (netsocket or a raw
 * baseline, plain or TLS): bulk transfer, small round trips, connections
 * per second.  Each variant supplies the same few operations, so the loops
 * and their costs are shared and only the library under test differs. */
#ifndef NS_BENCH_STREAM_H
#define NS_BENCH_STREAM_H

#include <stddef.h>
#include <sys/types.h>

typedef struct bench_variant bench_variant;
struct bench_variant {
    const char *name;
    /* One connection: accept runs on the server thread, connect on the
     * client thread; both return a handle (the TLS handshake done). */
    void *(*accept)(bench_variant *v);
    void *(*connect)(bench_variant *v);
    int (*send_all)(void *c, const void *buf, size_t len); /* 0 or -1 */
    ssize_t (*recv)(void *c, void *buf, size_t len);       /* > 0, 0 at end, < 0 error */
    void (*close)(void *c);
    void *state; /* the variant's own: listener, contexts, options */
};

/* The netsocket variant, plain or TLS: accept on `server`, connect to its
 * port on 127.0.0.1 with `client_opts` (a TLS client when tls), blocking
 * send_all/recv, TCP_NODELAY on both sides, ns_socket_free to close. */
typedef struct ns_socket ns_socket;
typedef struct ns_options ns_options;
typedef struct {
    ns_socket *server;
    ns_options *client_opts;
    int tls;
    char port[16];
} bench_ns_state;
void bench_ns_variant(bench_variant *v, bench_ns_state *st, const char *name);

typedef struct {
    bench_variant *v;
    size_t total; /* bulk: bytes per run */
    size_t chunk; /* bulk: bytes per write; rtt: message size */
    int count;    /* rtt: round trips per run; handshakes: connections per run */
} bench_job;

/* MB/s (1e6 bytes) for job->total bytes in job->chunk writes. */
double bench_bulk(void *job);
/* Round trips per second of job->chunk bytes each way. */
double bench_rtt(void *job);
/* Connections (full handshakes) per second, open and close. */
double bench_handshakes(void *job);

#endif
