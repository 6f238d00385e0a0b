/* ns_set_thread_interrupt: a blocked recv, accept or TLS handshake ends
 * when the thread's interrupt fd becomes readable or its check says so
 * after a signal; the socket stays usable (issue 13, for the bindings'
 * Ctrl-C, Thread#kill and Thread#raise). */
#include <errno.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "testlib.h"

struct blocked {
    ns_socket *s;        /* recv on it, or accept on it */
    int accept;
    int fd;              /* the interrupt fd, or -1 */
    int checks_to_refuse; /* the check says "keep waiting" this many times */
    int checks;
    ssize_t result;
    int os_error;
    int64_t took_us;
    char message[256];
};

static int check(void *userdata)
{
    struct blocked *b = userdata;
    return ++b->checks > b->checks_to_refuse;
}

static void *blocked_call(void *arg)
{
    struct blocked *b = arg;
    ns_set_thread_interrupt(b->fd, b->fd < 0 ? check : NULL, b);
    int64_t t0 = now_us();
    char buf[8];
    if (b->accept) {
        ns_socket *conn = ns_socket_accept(b->s);
        b->result = conn ? 1 : ns_last_status();
        ns_socket_free(conn);
    } else {
        b->result = ns_socket_recv(b->s, buf, sizeof buf, 0);
    }
    b->took_us = now_us() - t0;
    b->os_error = ns_last_os_error();
    snprintf(b->message, sizeof b->message, "%s", ns_last_error());
    ns_set_thread_interrupt(-1, NULL, NULL);
    return NULL;
}

static void on_signal(int sig) { (void)sig; }

static ns_socket *server(void)
{
    ns_options *o = blocking_options(NS_SOCKET_OPTIONS, -1);
    ns_socket *s = ns_make_server_socket("127.0.0.1", "0", o);
    ns_options_free(o);
    return s;
}

static void recv_ends_when_the_fd_is_readable(void)
{
    ns_socket *srv = server();
    ns_options *o = blocking_options(NS_SOCKET_OPTIONS, -1); /* no read timeout */
    ns_socket *c = ns_make_client_socket("127.0.0.1", port_of(srv), o);
    ns_options_free(o);
    ns_socket *conn = ns_socket_accept(srv);
    CHECK(c != NULL && conn != NULL);
    struct blocked b = {.s = c, .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    pthread_t t = spawn(blocked_call, &b);
    usleep(100000);
    uint64_t one = 1;
    CHECK_EQ(write(b.fd, &one, sizeof one), sizeof one);
    pthread_join(t, NULL);
    CHECK_EQ(b.result, NS_ERR_IO);
    CHECK_EQ(b.os_error, EINTR);
    char want[128];
    snprintf(want, sizeof want, "recv from 127.0.0.1:%s: Interrupted system call", port_of(srv));
    CHECK_STR(b.message, want);
    CHECK(b.took_us < SLACK(2000000));
    /* The socket is still usable once the fd is drained. */
    CHECK_EQ(read(b.fd, &one, sizeof one), sizeof one);
    CHECK(send_text(conn, "x"));
    b.result = 0;
    t = spawn(blocked_call, &b);
    pthread_join(t, NULL);
    CHECK_EQ(b.result, 1);
    close(b.fd);
    ns_socket_free(c);
    ns_socket_free(conn);
    ns_socket_free(srv);
}

static void accept_ends_when_the_check_says_so(void)
{
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: the wait sees EINTR */
    sigaction(SIGUSR1, &sa, NULL);
    ns_socket *srv = server();
    CHECK(srv != NULL);
    struct blocked b = {.s = srv, .accept = 1, .fd = -1, .checks_to_refuse = 1};
    pthread_t t = spawn(blocked_call, &b);
    for (int i = 0; i < 2; i++) { /* the first check says "keep waiting" */
        usleep(100000);
        pthread_kill(t, SIGUSR1);
    }
    pthread_join(t, NULL);
    CHECK_EQ(b.checks, 2);
    CHECK_EQ(b.result, NS_ERR_IO);
    CHECK_EQ(b.os_error, EINTR);
    CHECK(b.took_us >= 150000 && b.took_us < SLACK(3000000));
    ns_socket_free(srv);
    signal(SIGUSR1, SIG_DFL);
}

struct handshake {
    const char *port;
    int fd;
    ns_socket *made;
    int status, os_error;
};

static void *blocked_handshake(void *arg)
{
    struct handshake *h = arg;
    ns_set_thread_interrupt(h->fd, NULL, NULL);
    h->made = ns_make_client_tls_socket("127.0.0.1", h->port, NULL);
    h->status = ns_last_status();
    h->os_error = ns_last_os_error();
    ns_set_thread_interrupt(-1, NULL, NULL);
    return NULL;
}

static void tls_client_constructor_ends_too(void)
{
    /* A plain server that never answers the ClientHello. */
    ns_socket *srv = server();
    struct handshake h = {.port = port_of(srv), .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    pthread_t t = spawn(blocked_handshake, &h);
    usleep(100000);
    uint64_t one = 1;
    CHECK_EQ(write(h.fd, &one, sizeof one), sizeof one);
    pthread_join(t, NULL);
    CHECK(h.made == NULL);
    CHECK_EQ(h.status, NS_ERR_IO);
    CHECK_EQ(h.os_error, EINTR);
    close(h.fd);
    ns_socket_free(srv);
}

static const ns_test tests[] = {
    TEST(recv_ends_when_the_fd_is_readable),
    TEST(accept_ends_when_the_check_says_so),
    TEST(tls_client_constructor_ends_too),
};

NS_TEST_MAIN(tests)
