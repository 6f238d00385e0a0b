/* Item 6: the selector's cost with 100 active sockets while 10,000 idle
 * ones are registered (each with a 60 s timeout, so the deadline heap is
 * full too), against the same with none idle.  One cycle: a byte is
 * written to each of the 100 peers (not timed), the 100 sockets are added
 * (timed: "add"), and ns_selector_wait is called until all 100 are
 * reported (timed: "wait"); then the bytes are read (not timed).  The idle
 * connections' peers live in a child process, to stay within RLIMIT_NOFILE.
 * Figures are microseconds per cycle (lower is better). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchlib.h"
#include "netsocket.h"

#define ACTIVE 100
#define TIMEOUT_US 60000000

typedef struct {
    ns_selector *sel;
    ns_socket **active; /* server side, registered each cycle */
    int *peers;         /* raw client side of each active socket */
    int cycles;
    double add_us, wait_us; /* per cycle, for the last run */
} sel_run;

static void run_cycles(sel_run *r)
{
    double add = 0, wait = 0;
    char c = 'x';
    for (int cycle = 0; cycle < r->cycles; cycle++) {
        for (int i = 0; i < ACTIVE; i++)
            if (bench_write_full(r->peers[i], &c, 1) != 0)
                bench_die("write");
        double t0 = bench_now();
        for (int i = 0; i < ACTIVE; i++)
            if (ns_selector_add(r->sel, r->active[i], TIMEOUT_US, r->active[i]) != NS_OK) {
                fprintf(stderr, "bench_selector: %s\n", ns_last_error());
                exit(1);
            }
        double t1 = bench_now();
        int seen = 0;
        while (seen < ACTIVE) {
            int n = ns_selector_wait(r->sel, 5000000);
            if (n <= 0) {
                fprintf(stderr, "bench_selector: wait returned %d (%s)\n", n, ns_last_error());
                exit(1);
            }
            for (int i = 0; i < n; i++)
                if (ns_selector_event_timed_out(r->sel, i)) {
                    fprintf(stderr, "bench_selector: unexpected timeout\n");
                    exit(1);
                }
            seen += n;
        }
        double t2 = bench_now();
        add += t1 - t0;
        wait += t2 - t1;
        for (int i = 0; i < ACTIVE; i++)
            if (ns_socket_recv(r->active[i], &c, 1, 0) != 1)
                bench_die("recv");
    }
    r->add_us = add / r->cycles * 1e6;
    r->wait_us = wait / r->cycles * 1e6;
}

/* The child: `n` connections to port, held until `hold` is closed. */
static void hold_idle_peers(int port, int n, int hold)
{
    for (int i = 0; i < n; i++)
        bench_connect(port);
    char c;
    while (read(hold, &c, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
}

int main(int argc, char **argv)
{
    bench_args args;
    bench_parse_args(argc, argv, &args);
    long nofile = bench_raise_nofile();
    int idle_n = args.quick ? 200 : 10000;
    int cycles = args.quick ? 20 : 500;
    if (nofile < idle_n + 2 * ACTIVE + 64) {
        fprintf(stderr, "bench_selector: RLIMIT_NOFILE %ld is too low\n", nofile);
        return 1;
    }
    ns_options *o = ns_options_new(NS_SOCKET_OPTIONS);
    ns_options_set_non_blocking(o, 0);
    ns_socket *server = ns_make_server_socket("127.0.0.1", "0", o);
    if (server == NULL) {
        fprintf(stderr, "bench_selector: %s\n", ns_last_error());
        return 1;
    }
    int port = ns_socket_local_port(server);
    ns_socket *active[ACTIVE];
    int peers[ACTIVE];
    for (int i = 0; i < ACTIVE; i++) {
        peers[i] = bench_connect(port);
        if ((active[i] = ns_socket_accept(server)) == NULL) {
            fprintf(stderr, "bench_selector: %s\n", ns_last_error());
            return 1;
        }
    }
    int hold[2];
    if (pipe(hold) != 0)
        bench_die("pipe");
    pid_t child = fork();
    if (child == 0) {
        close(hold[1]);
        hold_idle_peers(port, idle_n, hold[0]);
    }
    close(hold[0]);
    ns_selector *crowded = ns_selector_new(), *empty = ns_selector_new();
    ns_socket **idle = calloc((size_t)idle_n, sizeof *idle);
    for (int i = 0; i < idle_n; i++) {
        if ((idle[i] = ns_socket_accept(server)) == NULL ||
            ns_selector_add(crowded, idle[i], TIMEOUT_US, NULL) != NS_OK) {
            fprintf(stderr, "bench_selector: idle %d: %s\n", i, ns_last_error());
            return 1;
        }
    }

    sel_run with = {crowded, active, peers, cycles, 0, 0};
    sel_run without = {empty, active, peers, cycles, 0, 0};
    double *wa = calloc((size_t)args.runs, sizeof(double)), *wb = calloc((size_t)args.runs, sizeof(double));
    double *aa = calloc((size_t)args.runs, sizeof(double)), *ab = calloc((size_t)args.runs, sizeof(double));
    double *wr = calloc((size_t)args.runs, sizeof(double)), *ar = calloc((size_t)args.runs, sizeof(double));
    run_cycles(&with); /* warm-up: grows the event arrays once */
    run_cycles(&without);
    for (int i = 0; i < args.runs; i++) {
        if (i % 2 == 0) {
            run_cycles(&with);
            run_cycles(&without);
        } else {
            run_cycles(&without);
            run_cycles(&with);
        }
        wa[i] = with.wait_us;
        wb[i] = without.wait_us;
        aa[i] = with.add_us;
        ab[i] = without.add_us;
        wr[i] = wa[i] / wb[i];
        ar[i] = aa[i] / ab[i];
    }
    if (ns_selector_count(crowded) != (size_t)idle_n) {
        fprintf(stderr, "bench_selector: idle sockets left the selector\n");
        return 1;
    }
    bench_header(&args);
    char fig[96];
    snprintf(fig, sizeof fig, "wait for %d active, %d idle vs 0 idle (us/cycle)", ACTIVE, idle_n);
    bench_row("6 selector (C)", fig, "us", bench_median(wa, args.runs),
              bench_median(wb, args.runs), bench_median(wr, args.runs), 0, 1.1);
    snprintf(fig, sizeof fig, "add %d active, %d idle vs 0 idle (us/cycle)", ACTIVE, idle_n);
    bench_row("6 selector (C)", fig, "us", bench_median(aa, args.runs),
              bench_median(ab, args.runs), bench_median(ar, args.runs), 0, 1.1);

    close(hold[1]);
    waitpid(child, NULL, 0);
    ns_selector_free(crowded);
    ns_selector_free(empty);
    for (int i = 0; i < idle_n; i++)
        ns_socket_free(idle[i]);
    for (int i = 0; i < ACTIVE; i++) {
        ns_socket_free(active[i]);
        close(peers[i]);
    }
    ns_socket_free(server);
    ns_options_free(o);
    free(idle);
    free(wa);
    free(wb);
    free(aa);
    free(ab);
    free(wr);
    free(ar);
    return 0;
}
