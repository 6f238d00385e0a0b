#include "testlib.h"

#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

int ns_test_failed, ns_test_skipped;

int ns_test_main(const ns_test *tests, size_t n, int argc, char **argv)
{
    int passed = 0, failed = 0, skipped = 0;
    /* A hung test must fail the run, not stall CI. */
    alarm(300);
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
            continue;
        ns_test_failed = 0;
        ns_test_skipped = 0;
        ns_clear_error();
        tests[i].fn();
        if (ns_test_failed) {
            failed++;
            printf("FAIL %s\n", tests[i].name);
        } else if (ns_test_skipped) {
            skipped++;
            printf("SKIP %s\n", tests[i].name);
        } else {
            passed++;
            printf("ok   %s\n", tests[i].name);
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : skipped ? NS_TEST_SKIP_STATUS : 0;
}

ns_options *blocking_options(ns_options_kind kind, int64_t read_timeout)
{
    ns_options *o = ns_options_new(kind);
    if (o) {
        ns_options_set_non_blocking(o, 0);
        ns_options_set_read_timeout(o, read_timeout);
    }
    return o;
}

const char *port_of(ns_socket *server)
{
    static _Thread_local char buf[16];
    snprintf(buf, sizeof buf, "%d", ns_socket_local_port(server));
    return buf;
}

pthread_t spawn(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    if (pthread_create(&t, NULL, fn, arg) != 0)
        abort();
    return t;
}

int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t ns_test_slack(int64_t us)
{
    const char *scale = getenv("NS_TEST_TIME_SCALE");
    long k = scale ? atol(scale) : 1;
    return us * (k > 0 ? k : 1);
}

void echo_line(ns_socket *conn)
{
    char buf[256];
    ssize_t n = ns_socket_recv(conn, buf, sizeof buf, 0);
    if (n > 0)
        ns_socket_send_all(conn, buf, (size_t)n, 0);
}

void *accept_and_echo(void *server)
{
    ns_socket *conn = ns_socket_accept(server);
    if (conn) {
        echo_line(conn);
        ns_socket_free(conn);
    }
    return NULL;
}

void wait_for_close(ns_socket *conn)
{
    char buf[256];
    while (ns_socket_recv(conn, buf, sizeof buf, 0) > 0) {
    }
}

int send_text(ns_socket *s, const char *text)
{
    return ns_socket_send_all(s, text, strlen(text), 0) == (ssize_t)strlen(text);
}

int recv_text(ns_socket *s, const char *want)
{
    char buf[4096];
    size_t len = 0;
    while (len < sizeof buf - 1) {
        ssize_t n = ns_socket_recv(s, buf + len, sizeof buf - 1 - len, 0);
        if (n <= 0)
            return 0;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, want))
            return 1;
    }
    return 0;
}

int verdict_verifier(void *userdata, int depth, int preverify_error, const unsigned char *der,
                      size_t len)
{
    verdict *v = userdata;
    (void)depth, (void)der, (void)len;
    __atomic_add_fetch(&v->calls, 1, __ATOMIC_RELAXED);
    return preverify_error == 0 && __atomic_load_n(&v->accept, __ATOMIC_RELAXED);
}

int open_by_wants(ns_socket *s, int *rounds)
{
    int rc = NS_ERR_WOULD_BLOCK;
    for (*rounds = 0; rc == NS_ERR_WOULD_BLOCK && *rounds < 1000; ++*rounds) {
        rc = ns_socket_connect_continue(s);
        if (rc != NS_ERR_WOULD_BLOCK)
            break;
        int want = ns_socket_wants(s);
        int64_t left = ns_socket_wants_timeout(s);
        struct pollfd p = {ns_socket_wants_fd(s), want == NS_WANT_WRITE ? POLLOUT : POLLIN, 0};
        if (p.fd < 0 || (want != NS_WANT_READ && want != NS_WANT_WRITE))
            return -100;
        poll(&p, 1, left < 0 ? 5000 : (int)(left / 1000) + 1);
    }
    return rc;
}
