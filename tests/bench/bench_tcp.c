/* Item 1: plain TCP over loopback, netsocket vs raw syscalls on blocking
 * descriptors.  Bulk: 64 KiB writes; round trips: 64 bytes each way.
 * Both sides set TCP_NODELAY; netsocket runs in blocking mode. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "benchlib.h"
#include "netsocket.h"
#include "stream.h"

/* ---- netsocket ---- */

static void ns_setup(bench_variant *v, bench_ns_state *st)
{
    st->client_opts = ns_options_new(NS_SOCKET_OPTIONS);
    ns_options_set_non_blocking(st->client_opts, 0);
    st->server = ns_make_server_socket("127.0.0.1", "0", st->client_opts);
    if (st->server == NULL) {
        fprintf(stderr, "netsocket server: %s\n", ns_last_error());
        exit(1);
    }
    st->tls = 0;
    bench_ns_variant(v, st, "netsocket TCP");
}

/* ---- raw syscalls ---- */

typedef struct {
    int lfd, port;
} raw_state;

static void *raw_accept(bench_variant *v)
{
    raw_state *st = v->state;
    return (void *)(intptr_t)bench_accept(st->lfd);
}

static void *raw_connect(bench_variant *v)
{
    raw_state *st = v->state;
    return (void *)(intptr_t)bench_connect(st->port);
}

static int raw_send_all(void *c, const void *buf, size_t len)
{
    return bench_write_full((int)(intptr_t)c, buf, len);
}

static ssize_t raw_recv(void *c, void *buf, size_t len)
{
    ssize_t n;
    do
        n = recv((int)(intptr_t)c, buf, len, 0);
    while (n < 0 && errno == EINTR);
    return n;
}

static void raw_close(void *c) { close((int)(intptr_t)c); }

static void raw_setup(bench_variant *v, raw_state *st)
{
    st->lfd = bench_listen(&st->port);
    *v = (bench_variant){"raw TCP", raw_accept, raw_connect, raw_send_all, raw_recv, raw_close, st};
}

int main(int argc, char **argv)
{
    bench_args args;
    bench_parse_args(argc, argv, &args);
    bench_ns_state nst;
    raw_state rst;
    bench_variant nv, rv;
    ns_setup(&nv, &nst);
    raw_setup(&rv, &rst);

    bench_header(&args);
    size_t total = args.quick ? (size_t)4 << 20 : (size_t)512 << 20;
    bench_job nb = {&nv, total, 64 * 1024, 0}, rb = {&rv, total, 64 * 1024, 0};
    double n, r, ratio;
    ratio = bench_alternate(args.runs, bench_bulk, &nb, bench_bulk, &rb, &n, &r);
    bench_row("1 TCP (C)", "bulk, 64 KiB writes", "MB/s", n, r, ratio, 1, 0.98);

    int trips = args.quick ? 200 : 20000;
    bench_job nr = {&nv, 0, 64, trips}, rr = {&rv, 0, 64, trips};
    ratio = bench_alternate(args.runs, bench_rtt, &nr, bench_rtt, &rr, &n, &r);
    bench_row("1 TCP (C)", "64 B round trips", "/s", n, r, ratio, 1, 0.98);

    ns_socket_free(nst.server);
    ns_options_free(nst.client_opts);
    close(rst.lfd);
    return 0;
}
