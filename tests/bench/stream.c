#include "stream.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "benchlib.h"
#include "netsocket.h"

typedef struct {
    bench_job *job;
    int mode; /* 0 bulk, 1 rtt, 2 handshakes */
    int failed;
} server_arg;

static int recv_full(bench_variant *v, void *c, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = v->recv(c, (char *)buf + got, len - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

/* Client and server each on a CPU of their own (when there are two): the
 * scheduler otherwise moves them between sharing one CPU and not, which
 * swung single runs by 2x on the 2-core machine. */
static void pin_to_cpu(int cpu)
{
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *server_main(void *p)
{
    server_arg *a = p;
    pin_to_cpu(1);
    bench_job *j = a->job;
    bench_variant *v = j->v;
    if (a->mode == 2) {
        for (int i = 0; i < j->count; i++) {
            void *c = v->accept(v);
            if (c == NULL) {
                a->failed = 1;
                return NULL;
            }
            v->close(c);
        }
        return NULL;
    }
    void *c = v->accept(v);
    if (c == NULL) {
        a->failed = 1;
        return NULL;
    }
    size_t cap = j->chunk;
    char *buf = malloc(cap);
    if (a->mode == 0) {
        size_t got = 0;
        while (got < j->total) {
            ssize_t n = v->recv(c, buf, cap);
            if (n <= 0) {
                a->failed = 1;
                break;
            }
            got += (size_t)n;
        }
        if (!a->failed && v->send_all(c, "k", 1) != 0)
            a->failed = 1;
    } else {
        for (int i = 0; i < j->count; i++) {
            if (recv_full(v, c, buf, j->chunk) != 0 || v->send_all(c, buf, j->chunk) != 0) {
                a->failed = 1;
                break;
            }
        }
    }
    free(buf);
    v->close(c);
    return NULL;
}

/* A failed client exits at once: the server thread may be waiting for it. */
static void check_client(bench_job *j, int failed, const char *what)
{
    if (failed) {
        fprintf(stderr, "bench: %s over %s failed on the client side\n", what, j->v->name);
        exit(1);
    }
}

static void check(bench_job *j, server_arg *a, int client_failed, const char *what)
{
    if (a->failed || client_failed) {
        fprintf(stderr, "bench: %s over %s failed\n", what, j->v->name);
        exit(1);
    }
}

double bench_bulk(void *p)
{
    pin_to_cpu(0);
    bench_job *j = p;
    bench_variant *v = j->v;
    server_arg a = {j, 0, 0};
    pthread_t t = bench_spawn(server_main, &a);
    void *c = v->connect(v);
    int failed = c == NULL;
    char *buf = calloc(1, j->chunk);
    char ack;
    double t0 = bench_now();
    for (size_t sent = 0; !failed && sent < j->total; sent += j->chunk)
        failed = v->send_all(c, buf, j->chunk) != 0;
    failed = failed || recv_full(v, c, &ack, 1) != 0;
    double t1 = bench_now();
    check_client(j, failed, "bulk transfer");
    v->close(c);
    free(buf);
    pthread_join(t, NULL);
    check(j, &a, failed, "bulk transfer");
    return (double)j->total / (t1 - t0) / 1e6;
}

double bench_rtt(void *p)
{
    pin_to_cpu(0);
    bench_job *j = p;
    bench_variant *v = j->v;
    server_arg a = {j, 1, 0};
    pthread_t t = bench_spawn(server_main, &a);
    void *c = v->connect(v);
    int failed = c == NULL;
    char *buf = calloc(1, j->chunk);
    double t0 = bench_now();
    for (int i = 0; !failed && i < j->count; i++)
        failed = v->send_all(c, buf, j->chunk) != 0 || recv_full(v, c, buf, j->chunk) != 0;
    double t1 = bench_now();
    check_client(j, failed, "round trips");
    v->close(c);
    free(buf);
    pthread_join(t, NULL);
    check(j, &a, failed, "round trips");
    return j->count / (t1 - t0);
}

double bench_handshakes(void *p)
{
    pin_to_cpu(0);
    bench_job *j = p;
    bench_variant *v = j->v;
    server_arg a = {j, 2, 0};
    double t0 = bench_now();
    pthread_t t = bench_spawn(server_main, &a);
    int failed = 0;
    for (int i = 0; !failed && i < j->count; i++) {
        void *c = v->connect(v);
        check_client(j, c == NULL, "handshakes");
        v->close(c);
    }
    pthread_join(t, NULL);
    double t1 = bench_now();
    check(j, &a, failed, "handshakes");
    return j->count / (t1 - t0);
}

/* ---- the netsocket variant ---- */

static void ns_nodelay(ns_socket *s)
{
    int one = 1;
    ns_socket_setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void *ns_accept(bench_variant *v)
{
    bench_ns_state *st = v->state;
    ns_socket *s = ns_socket_accept(st->server);
    if (s == NULL)
        fprintf(stderr, "netsocket accept: %s\n", ns_last_error());
    else
        ns_nodelay(s);
    return s;
}

static void *ns_connect(bench_variant *v)
{
    bench_ns_state *st = v->state;
    ns_socket *s = st->tls ? ns_make_client_tls_socket("127.0.0.1", st->port, st->client_opts)
                           : ns_make_client_socket("127.0.0.1", st->port, st->client_opts);
    if (s == NULL)
        fprintf(stderr, "netsocket connect: %s\n", ns_last_error());
    else
        ns_nodelay(s);
    return s;
}

static int ns_send_all(void *c, const void *buf, size_t len)
{
    return ns_socket_send_all(c, buf, len, 0) == (ssize_t)len ? 0 : -1;
}

static ssize_t ns_recv(void *c, void *buf, size_t len) { return ns_socket_recv(c, buf, len, 0); }

static void ns_close(void *c) { ns_socket_free(c); }

void bench_ns_variant(bench_variant *v, bench_ns_state *st, const char *name)
{
    snprintf(st->port, sizeof st->port, "%d", ns_socket_local_port(st->server));
    *v = (bench_variant){name, ns_accept, ns_connect, ns_send_all, ns_recv, ns_close, st};
}
