/* Plain TCP sockets: the (net socket) scenarios and every bad case. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testlib.h"

/* A server thread: accepts one client and runs `behave` on it. */
typedef struct {
    ns_socket *server;
    void (*behave)(ns_socket *conn);
    int accept_status;
} server_job;

static void *serve_one(void *arg)
{
    server_job *job = arg;
    ns_socket *conn = ns_socket_accept(job->server);
    job->accept_status = conn ? NS_OK : ns_last_status();
    if (conn) {
        job->behave(conn);
        ns_socket_free(conn);
    }
    return NULL;
}

static ns_socket *blocking_server(const char *node, int64_t read_timeout)
{
    ns_options *o = blocking_options(NS_SOCKET_OPTIONS, read_timeout);
    ns_socket *s = ns_make_server_socket(node, "0", o);
    ns_options_free(o);
    return s;
}

static ns_socket *blocking_client(const char *port, int64_t read_timeout)
{
    ns_options *o = blocking_options(NS_SOCKET_OPTIONS, read_timeout);
    ns_socket *c = ns_make_client_socket("127.0.0.1", port, o);
    ns_options_free(o);
    return c;
}

static void test_exchange_echoes_a_line(void)
{
    ns_socket *server = blocking_server("127.0.0.1", 5000000);
    CHECK(server != NULL);
    server_job job = {server, echo_line};
    pthread_t t = spawn(serve_one, &job);
    ns_socket *c = blocking_client(port_of(server), 5000000);
    CHECK(c != NULL);
    CHECK_EQ(ns_socket_send_all(c, "hello\n", 6, 0), 6);
    char buf[16] = {0};
    CHECK_EQ(ns_socket_recv(c, buf, sizeof buf, MSG_WAITALL), 6);
    CHECK(memcmp(buf, "hello\n", 6) == 0);
    CHECK_EQ(ns_socket_recv(c, buf, sizeof buf, 0), 0); /* server closed: end of stream */
    pthread_join(t, NULL);
    CHECK_EQ(job.accept_status, NS_OK);
    char addr[64];
    CHECK_EQ(ns_socket_peer_address(c, addr, sizeof addr), NS_OK);
    CHECK(strcmp(addr, "127.0.0.1") == 0);
    CHECK_EQ(ns_socket_peer_port(c), ns_socket_local_port(server));
    CHECK(ns_socket_local_port(c) > 0);
    CHECK(strcmp(ns_socket_node(c), "127.0.0.1") == 0);
    CHECK(strcmp(ns_socket_service(c), port_of(server)) == 0);
    CHECK(ns_socket_node(server) == NULL);
    CHECK(!ns_socket_is_tls(c));
    CHECK(ns_socket_peer_certificate(c, NULL) == NULL);
    ns_socket_free(c);
    ns_socket_free(server);
}

static void test_client_read_timeout_while_server_waits(void)
{
    ns_socket *server = blocking_server("127.0.0.1", 5000000);
    server_job job = {server, wait_for_close};
    pthread_t t = spawn(serve_one, &job);
    ns_socket *c = blocking_client(port_of(server), 100000);
    CHECK(c != NULL);
    char buf[8];
    int64_t start = now_us();
    CHECK_EQ(ns_socket_recv(c, buf, sizeof buf, 0), NS_ERR_READ_TIMEOUT);
    int64_t took = now_us() - start;
    CHECK(took >= 100000 && took < SLACK(2000000));
    CHECK_ERROR_HAS("timed out after 100000 us");
    CHECK_ERROR_HAS("127.0.0.1");
    /* The socket is still usable after a timeout. */
    CHECK_EQ(ns_socket_set_read_timeout(c, 20000), NS_OK);
    CHECK_EQ(ns_socket_get_read_timeout(c), 20000);
    CHECK_EQ(ns_socket_recv(c, buf, sizeof buf, 0), NS_ERR_READ_TIMEOUT);
    ns_socket_free(c);
    pthread_join(t, NULL);
    ns_socket_free(server);
}

static void send_two_bytes(ns_socket *conn)
{
    ns_socket_send_all(conn, "ab", 2, 0);
    wait_for_close(conn);
}

static void test_waitall_timeout_returns_the_bytes_it_took(void)
{
    ns_socket *server = blocking_server("127.0.0.1", 5000000);
    server_job job = {server, send_two_bytes};
    pthread_t t = spawn(serve_one, &job);
    ns_socket *c = blocking_client(port_of(server), 200000);
    CHECK(c != NULL);
    char buf[8] = {0};
    CHECK_EQ(ns_socket_recv(c, buf, 4, MSG_WAITALL), 2);
    CHECK(memcmp(buf, "ab", 2) == 0);
    CHECK_EQ(ns_socket_recv(c, buf, 4, MSG_WAITALL), NS_ERR_READ_TIMEOUT);
    ns_socket_free(c);
    pthread_join(t, NULL);
    ns_socket_free(server);
}

static void test_non_blocking_recv_would_block_at_once(void)
{
    ns_socket *server = blocking_server("127.0.0.1", 5000000);
    server_job job = {server, wait_for_close};
    pthread_t t = spawn(serve_one, &job);
    /* Default options: non-blocking? is true. */
    ns_socket *c = ns_make_client_socket("127.0.0.1", port_of(server), NULL);
    CHECK(c != NULL);
    CHECK(ns_socket_is_non_blocking(c));
    char buf[8];
    int64_t start = now_us();
    CHECK_EQ(ns_socket_recv(c, buf, sizeof buf, 0), NS_ERR_WOULD_BLOCK);
    CHECK(now_us() - start < SLACK(50000));
    CHECK_EQ(ns_socket_set_non_blocking(c, 0), NS_OK);
    CHECK(!ns_socket_is_non_blocking(c));
    ns_socket_free(c);
    pthread_join(t, NULL);
    ns_socket_free(server);
}

static int server_side_status;
static void recv_with_timeout(ns_socket *conn)
{
    char buf[8];
    server_side_status = (int)ns_socket_recv(conn, buf, sizeof buf, 0);
}

static void test_server_side_read_timeout(void)
{
    ns_socket *server = blocking_server("127.0.0.1", 100000);
    server_job job = {server, recv_with_timeout};
    pthread_t t = spawn(serve_one, &job);
    ns_socket *c = blocking_client(port_of(server), -1);
    CHECK(c != NULL);
    pthread_join(t, NULL);
    CHECK_EQ(server_side_status, NS_ERR_READ_TIMEOUT);
    ns_socket_free(c);
    ns_socket_free(server);
}

static void test_accepted_socket_inherits_modes(void)
{
    ns_options *o = ns_options_new(NS_SOCKET_OPTIONS); /* non-blocking */
    ns_options_set_read_timeout(o, 777);
    ns_socket *server = ns_make_server_socket("127.0.0.1", "0", o);
    CHECK(server != NULL);
    CHECK(ns_socket_accept(server) == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_WOULD_BLOCK);
    ns_socket *c = ns_make_client_socket("127.0.0.1", port_of(server), o);
    CHECK(c != NULL);
    ns_socket *conn = NULL;
    for (int i = 0; i < 200 && conn == NULL; i++) {
        conn = ns_socket_accept(server);
        if (!conn)
            usleep(5000);
    }
    CHECK(conn != NULL);
    CHECK(ns_socket_is_non_blocking(conn));
    CHECK_EQ(ns_socket_get_read_timeout(conn), 777);
    CHECK(ns_socket_node(conn) == NULL);
    ns_socket_free(conn);
    ns_socket_free(c);
    ns_socket_free(server);
    ns_options_free(o);
}

/* A port with nothing listening on it. */
static int closed_port(void)
{
    ns_socket *s = blocking_server("127.0.0.1", -1);
    int port = ns_socket_local_port(s);
    ns_socket_free(s);
    return port;
}

static void test_refused_names_each_address(void)
{
    char port[16];
    snprintf(port, sizeof port, "%d", closed_port());
    ns_options *o = blocking_options(NS_SOCKET_OPTIONS, -1);
    ns_options_set_ai_family(o, AF_UNSPEC);
    ns_options_set_ai_flags(o, 0);
    ns_socket *c = ns_make_client_socket("localhost", port, o);
    CHECK(c == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_CONNECT);
    CHECK_EQ(ns_last_os_error(), ECONNREFUSED);
    CHECK_ERROR_HAS("localhost");
    CHECK_ERROR_HAS("127.0.0.1 port");
    CHECK_ERROR_HAS("refused");
    ns_options_free(o);
}

static void test_connect_timeout_when_syns_are_dropped(void)
{
    /* A listener with a full accept queue (backlog 0, never accepting)
     * drops further SYNs, so a connect hangs until its deadline. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(lfd, 0) == 0);
    socklen_t len = sizeof sa;
    getsockname(lfd, (struct sockaddr *)&sa, &len);
    char port[16];
    snprintf(port, sizeof port, "%d", ntohs(sa.sin_port));
    ns_options *quick = blocking_options(NS_SOCKET_OPTIONS, -1);
    ns_options_set_connection_timeout(quick, 100000);
    ns_socket *fillers[4] = {0};
    for (int i = 0; i < 4; i++)
        fillers[i] = ns_make_client_socket("127.0.0.1", port, quick);
    ns_options *o = blocking_options(NS_SOCKET_OPTIONS, -1);
    ns_options_set_connection_timeout(o, 200000);
    int64_t start = now_us();
    ns_socket *c = ns_make_client_socket("127.0.0.1", port, o);
    int64_t took = now_us() - start;
    CHECK(c == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_CONNECT_TIMEOUT);
    CHECK_ERROR_HAS("timed out after 200000 us");
    CHECK(took >= 190000 && took < SLACK(2000000));
    for (int i = 0; i < 4; i++)
        ns_socket_free(fillers[i]);
    close(lfd);
    ns_options_free(o);
    ns_options_free(quick);
}

static void test_unknown_service_and_host(void)
{
    ns_socket *c = ns_make_client_socket("127.0.0.1", "no-such-service-netsocket", NULL);
    CHECK(c == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_HOST_NOT_FOUND);
    CHECK_ERROR_HAS("no-such-service-netsocket");
    /* A numeric-only lookup of a bad literal: no DNS traffic leaves the host. */
    ns_options *o = ns_options_new(NS_SOCKET_OPTIONS);
    ns_options_set_ai_flags(o, AI_NUMERICHOST);
    c = ns_make_client_socket("256.1.1.1", "80", o);
    CHECK(c == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_HOST_NOT_FOUND);
    CHECK_ERROR_HAS("256.1.1.1");
    ns_options_free(o);
}

static void test_ai_passive_on_a_client_is_invalid(void)
{
    ns_options *o = ns_options_new(NS_SOCKET_OPTIONS);
    ns_options_set_ai_flags(o, AI_PASSIVE);
    CHECK(ns_make_client_socket("127.0.0.1", "80", o) == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_INVALID);
    CHECK_ERROR_HAS("AI_PASSIVE");
    CHECK(ns_socket_connect(o, "127.0.0.1", "80") == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_INVALID);
    ns_options_free(o);
}

/* getaddrinfo truncates a numeric service to 16 bits: "port + 65536" used to
 * reach the listening port.  Every open refuses it, naming the port. */
static void test_ports_over_65535_are_refused(void)
{
    ns_options *o = blocking_options(NS_SOCKET_OPTIONS, -1);
    ns_socket *server = ns_make_server_socket("127.0.0.1", "0", o);
    CHECK(server != NULL);
    char wrapped[16], expected[128];
    snprintf(wrapped, sizeof wrapped, "%d", ns_socket_local_port(server) + 65536);
    snprintf(expected, sizeof expected,
             "connect to 127.0.0.1:%s: port %s is out of range (0 to 65535)", wrapped, wrapped);
    CHECK(ns_make_client_socket("127.0.0.1", wrapped, NULL) == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), expected);
    CHECK(ns_socket_connect_start(o, "127.0.0.1", wrapped) == NULL);
    CHECK_STR(ns_last_error(), expected);
    CHECK(ns_make_client_socket("127.0.0.1", "99999999999999999999", NULL) == NULL);
    CHECK_STR(ns_last_error(), "connect to 127.0.0.1:99999999999999999999: port "
                               "99999999999999999999 is out of range (0 to 65535)");
    CHECK(ns_make_server_socket(NULL, "70000", NULL) == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "listen on *:70000: port 70000 is out of range (0 to 65535)");
    ns_socket_free(server);
    ns_options_free(o);
}

static void close_at_once(ns_socket *conn) { ns_socket_close(conn); }

static void test_send_to_a_closed_peer_is_closed_without_sigpipe(void)
{
    ns_socket *server = blocking_server("127.0.0.1", -1);
    server_job job = {server, close_at_once};
    pthread_t t = spawn(serve_one, &job);
    ns_socket *c = blocking_client(port_of(server), 1000000);
    pthread_join(t, NULL);
    char block[4096] = {0};
    ssize_t r = 0;
    /* The first sends may land in the buffer; after the RST they fail. */
    for (int i = 0; i < 200 && r >= 0; i++) {
        r = ns_socket_send(c, block, sizeof block, 0);
        if (r >= 0)
            usleep(1000);
    }
    CHECK_EQ(r, NS_ERR_CLOSED);
    CHECK(ns_last_os_error() == EPIPE || ns_last_os_error() == ECONNRESET);
    ns_socket_free(c);
    ns_socket_free(server);
}

static void test_use_after_close(void)
{
    ns_socket *server = blocking_server("127.0.0.1", -1);
    server_job job = {server, wait_for_close};
    pthread_t t = spawn(serve_one, &job);
    ns_socket *c = blocking_client(port_of(server), -1);
    CHECK(c != NULL);
    CHECK_EQ(ns_socket_close(c), NS_OK);
    CHECK(ns_socket_is_closed(c));
    CHECK_EQ(ns_socket_fd(c), -1);
    char buf[4];
    CHECK_EQ(ns_socket_recv(c, buf, sizeof buf, 0), NS_ERR_CLOSED);
    CHECK_ERROR_HAS("closed");
    CHECK_EQ(ns_socket_send(c, "x", 1, 0), NS_ERR_CLOSED);
    CHECK_EQ(ns_socket_shutdown(c, SHUT_WR), NS_ERR_CLOSED);
    CHECK_EQ(ns_socket_peer_port(c), NS_ERR_CLOSED);
    CHECK_EQ(ns_socket_close(c), NS_OK);
    pthread_join(t, NULL);
    CHECK_EQ(ns_socket_close(server), NS_OK);
    CHECK(ns_socket_accept(server) == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_CLOSED);
    ns_socket_free(c);
    ns_socket_free(server);
}

static void test_null_handles_never_crash(void)
{
    char buf[8];
    size_t len = sizeof buf;
    CHECK_EQ(ns_socket_send(NULL, "x", 1, 0), NS_ERR_INVALID);
    CHECK_EQ(ns_socket_send_all(NULL, "x", 1, 0), NS_ERR_INVALID);
    CHECK_EQ(ns_socket_recv(NULL, buf, 1, 0), NS_ERR_INVALID);
    CHECK(ns_socket_accept(NULL) == NULL);
    CHECK_EQ(ns_socket_handshake(NULL), NS_ERR_INVALID);
    CHECK_EQ(ns_socket_shutdown(NULL, SHUT_RDWR), NS_ERR_INVALID);
    CHECK_EQ(ns_socket_close(NULL), NS_ERR_INVALID);
    CHECK(ns_socket_is_closed(NULL));
    CHECK_EQ(ns_socket_fd(NULL), -1);
    CHECK_EQ(ns_socket_set_non_blocking(NULL, 1), NS_ERR_INVALID);
    CHECK_EQ(ns_socket_set_read_timeout(NULL, 1), NS_ERR_INVALID);
    CHECK_EQ(ns_socket_get_read_timeout(NULL), -1);
    CHECK(ns_socket_node(NULL) == NULL);
    CHECK_EQ(ns_socket_peer_address(NULL, buf, sizeof buf), NS_ERR_INVALID);
    CHECK_EQ(ns_socket_local_port(NULL), NS_ERR_INVALID);
    CHECK_EQ(ns_socket_setsockopt(NULL, SOL_SOCKET, SO_KEEPALIVE, buf, 4), NS_ERR_INVALID);
    CHECK_EQ(ns_socket_getsockopt(NULL, SOL_SOCKET, SO_KEEPALIVE, buf, &len), NS_ERR_INVALID);
    CHECK(ns_socket_selected_alpn(NULL) == NULL);
    CHECK(ns_socket_tls_version(NULL) == NULL);
    CHECK_EQ(ns_socket_pending(NULL), 0);
    CHECK(ns_socket_connect(NULL, "127.0.0.1", "80") == NULL);
    CHECK(ns_make_client_socket(NULL, "80", NULL) == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_INVALID);
    CHECK(ns_make_server_socket(NULL, NULL, NULL) == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_INVALID);
    ns_socket_free(NULL);
}

static void test_ipv6_loopback_exchange(void)
{
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
    int have_v6 = probe >= 0 && bind(probe, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (probe >= 0)
        close(probe);
    if (!have_v6) {
        SKIP("no IPv6 loopback here");
    }
    ns_options *o = blocking_options(NS_SOCKET_OPTIONS, 5000000);
    ns_options_set_ai_family(o, AF_INET6);
    ns_socket *server = ns_make_server_socket("::1", "0", o);
    CHECK(server != NULL);
    server_job job = {server, echo_line};
    pthread_t t = spawn(serve_one, &job);
    ns_socket *c = ns_make_client_socket("::1", port_of(server), o);
    CHECK(c != NULL);
    CHECK_EQ(ns_socket_send_all(c, "six", 3, 0), 3);
    char buf[8] = {0};
    CHECK_EQ(ns_socket_recv(c, buf, sizeof buf, MSG_WAITALL), 3);
    CHECK(memcmp(buf, "six", 3) == 0);
    char addr[64];
    CHECK_EQ(ns_socket_peer_address(c, addr, sizeof addr), NS_OK);
    CHECK(strcmp(addr, "::1") == 0);
    CHECK_EQ(ns_socket_peer_address(c, addr, 2), NS_ERR_INVALID);
    pthread_join(t, NULL);
    ns_socket_free(c);
    ns_socket_free(server);
    ns_options_free(o);
}

static void test_server_with_null_node_binds_every_address(void)
{
    ns_socket *server = ns_make_server_socket(NULL, "0", NULL);
    CHECK(server != NULL);
    char addr[64];
    CHECK_EQ(ns_socket_local_address(server, addr, sizeof addr), NS_OK);
    CHECK(strcmp(addr, "0.0.0.0") == 0);
    CHECK(ns_socket_local_port(server) > 0);
    int on = 0;
    size_t len = sizeof on;
    CHECK_EQ(ns_socket_getsockopt(server, SOL_SOCKET, SO_REUSEADDR, &on, &len), NS_OK);
    CHECK_EQ(on, 1);
    /* A second server on the same port fails with a clear error. */
    ns_socket *again = ns_make_server_socket(NULL, port_of(server), NULL);
    CHECK(again == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_CONNECT);
    CHECK_ERROR_HAS("Address already in use");
    /* A listening socket is named by its bound address in messages. */
    CHECK(ns_socket_recv(server, addr, 1, 0) == NS_ERR_INVALID);
    char bound[32];
    snprintf(bound, sizeof bound, "0.0.0.0:%d", ns_socket_local_port(server));
    CHECK_ERROR_HAS(bound);
    ns_socket_free(server);
}

static void test_sockopts_peek_and_shutdown(void)
{
    ns_socket *server = blocking_server("127.0.0.1", 5000000);
    server_job job = {server, echo_line};
    pthread_t t = spawn(serve_one, &job);
    ns_options *o = blocking_options(NS_SOCKET_OPTIONS, 5000000);
    ns_socket *c = ns_socket_connect(o, "127.0.0.1", port_of(server));
    CHECK(c != NULL);
    int one = 1, got = 0;
    size_t len = sizeof got;
    CHECK_EQ(ns_socket_setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), NS_OK);
    CHECK_EQ(ns_socket_getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &got, &len), NS_OK);
    CHECK(got != 0);
    CHECK_EQ(ns_socket_setsockopt(c, SOL_SOCKET, 9999, &one, sizeof one), NS_ERR_INVALID);
    CHECK_EQ(ns_socket_send_all(c, "peek", 4, 0), 4);
    CHECK_EQ(ns_socket_shutdown(c, SHUT_WR), NS_OK);
    CHECK_EQ(ns_socket_shutdown(c, 42), NS_ERR_INVALID);
    char peeked[8] = {0}, buf[8] = {0};
    CHECK_EQ(ns_socket_recv(c, peeked, 4, MSG_PEEK | MSG_WAITALL), 4);
    CHECK(memcmp(peeked, "peek", 4) == 0);
    CHECK_EQ(ns_socket_recv(c, buf, sizeof buf, MSG_WAITALL), 4);
    CHECK(memcmp(buf, "peek", 4) == 0);
    pthread_join(t, NULL);
    ns_socket_free(c);
    ns_socket_free(server);
    ns_options_free(o);
}

typedef struct {
    ns_socket *server;
    size_t got;
} sink_job;

static void *sink(void *arg)
{
    sink_job *job = arg;
    ns_socket *conn = ns_socket_accept(job->server);
    static char buf[65536];
    ssize_t n;
    while (conn && (n = ns_socket_recv(conn, buf, sizeof buf, 0)) > 0)
        job->got += (size_t)n;
    ns_socket_free(conn);
    return NULL;
}

static void test_send_all_sends_everything_on_a_non_blocking_socket(void)
{
    ns_socket *server = blocking_server("127.0.0.1", 10000000);
    sink_job job = {server, 0};
    pthread_t t = spawn(sink, &job);
    ns_socket *c = ns_make_client_socket("127.0.0.1", port_of(server), NULL);
    CHECK(c != NULL && ns_socket_is_non_blocking(c));
    size_t total = 8 << 20;
    char *big = calloc(1, total);
    CHECK_EQ(ns_socket_send_all(c, big, total, 0), (long long)total);
    ns_socket_close(c);
    pthread_join(t, NULL);
    CHECK_EQ(job.got, total);
    free(big);
    ns_socket_free(c);
    ns_socket_free(server);
}

static void test_recv_on_a_listening_socket_is_invalid(void)
{
    ns_socket *server = blocking_server("127.0.0.1", -1);
    char buf[4];
    CHECK_EQ(ns_socket_recv(server, buf, sizeof buf, 0), NS_ERR_INVALID);
    CHECK_EQ(ns_socket_handshake(server), NS_ERR_INVALID);
    ns_socket_free(server);
}

/* Sends "abc", then after 100 ms "def", then ends the stream. */
static void send_in_two_parts(ns_socket *conn)
{
    ns_socket_send_all(conn, "abc", 3, 0);
    usleep(100000);
    ns_socket_send_all(conn, "def", 3, 0);
    ns_socket_shutdown(conn, SHUT_WR);
    wait_for_close(conn);
}

static void test_peek_waitall_peeks_once_at_all_of_it(void)
{
    ns_socket *server = blocking_server("127.0.0.1", 5000000);
    server_job job = {server, send_in_two_parts};
    pthread_t t = spawn(serve_one, &job);
    ns_socket *c = blocking_client(port_of(server), 5000000);
    CHECK(c != NULL);
    char peeked[16], buf[16];
    /* Waits for the second part, and peeks at each byte once. */
    memset(peeked, '-', sizeof peeked);
    CHECK_EQ(ns_socket_recv(c, peeked, 6, MSG_PEEK | MSG_WAITALL), 6);
    CHECK(memcmp(peeked, "abcdef----", 10) == 0);
    /* At the end of the stream a longer peek returns what there is. */
    memset(peeked, '-', sizeof peeked);
    CHECK_EQ(ns_socket_recv(c, peeked, 9, MSG_PEEK | MSG_WAITALL), 6);
    CHECK(memcmp(peeked, "abcdef----", 10) == 0);
    /* Nothing was consumed. */
    memset(buf, '-', sizeof buf);
    CHECK_EQ(ns_socket_recv(c, buf, 9, MSG_WAITALL), 6);
    CHECK(memcmp(buf, "abcdef----", 10) == 0);
    ns_socket_free(c);
    pthread_join(t, NULL);
    ns_socket_free(server);
}

static void echo_and_stay(ns_socket *conn)
{
    echo_line(conn);
    wait_for_close(conn);
}

static void test_peek_waitall_at_the_read_timeout_returns_what_arrived(void)
{
    ns_socket *server = blocking_server("127.0.0.1", 5000000);
    server_job job = {server, echo_and_stay};
    pthread_t t = spawn(serve_one, &job);
    ns_socket *c = blocking_client(port_of(server), 5000000);
    CHECK(c != NULL);
    CHECK_EQ(ns_socket_send_all(c, "abc", 3, 0), 3);
    char peeked[16];
    /* The echo is there (however loaded the machine), then a short timeout. */
    CHECK_EQ(ns_socket_recv(c, peeked, 3, MSG_PEEK | MSG_WAITALL), 3);
    CHECK_EQ(ns_socket_set_read_timeout(c, 200000), NS_OK);
    memset(peeked, '-', sizeof peeked);
    int64_t start = now_us();
    CHECK_EQ(ns_socket_recv(c, peeked, 9, MSG_PEEK | MSG_WAITALL), 3);
    CHECK(now_us() - start >= 150000);
    CHECK(memcmp(peeked, "abc-------", 10) == 0);
    ns_socket_free(c);
    pthread_join(t, NULL);
    ns_socket_free(server);
}

/* MSG_DONTWAIT: at once, even on a blocking socket with a long read timeout. */
static void test_dontwait_on_a_blocking_socket_returns_at_once(void)
{
    ns_socket *server = blocking_server("127.0.0.1", 5000000);
    server_job job = {server, echo_line};
    pthread_t t = spawn(serve_one, &job);
    ns_socket *c = blocking_client(port_of(server), 3000000);
    CHECK(c != NULL);
    char buf[8], expect[128];
    int64_t start = now_us();
    CHECK_EQ(ns_socket_recv(c, buf, sizeof buf, MSG_DONTWAIT), NS_ERR_WOULD_BLOCK);
    CHECK(now_us() - start < SLACK(100000));
    snprintf(expect, sizeof expect, "recv from 127.0.0.1:%s: no data yet (MSG_DONTWAIT)",
             port_of(server));
    CHECK_STR(ns_last_error(), expect);
    start = now_us();
    CHECK_EQ(ns_socket_recv(c, buf, sizeof buf, MSG_DONTWAIT | MSG_WAITALL), NS_ERR_WOULD_BLOCK);
    CHECK(now_us() - start < SLACK(100000));
    /* The socket is still blocking: a plain recv waits for the echo. */
    CHECK_EQ(ns_socket_send_all(c, "hi", 2, 0), 2);
    CHECK_EQ(ns_socket_recv(c, buf, 2, MSG_WAITALL), 2);
    CHECK(memcmp(buf, "hi", 2) == 0);
    ns_socket_free(c);
    pthread_join(t, NULL);
    ns_socket_free(server);
}

/* Timeouts of centuries mean "none"; computing their deadlines must not
 * overflow (UBSan in the sanitizer phase sees it if it does). */
static void test_timeouts_near_int64_max_do_not_overflow(void)
{
    ns_options *o = blocking_options(NS_SOCKET_OPTIONS, INT64_MAX);
    ns_options_set_connection_timeout(o, INT64_MAX);
    ns_socket *server = ns_make_server_socket("127.0.0.1", "0", o);
    CHECK(server != NULL);
    server_job job = {server, echo_line};
    pthread_t t = spawn(serve_one, &job);
    ns_socket *c = ns_make_client_socket("127.0.0.1", port_of(server), o);
    CHECK(c != NULL);
    CHECK_EQ(ns_socket_send_all(c, "far", 3, 0), 3);
    char buf[8];
    CHECK_EQ(ns_socket_recv(c, buf, 3, MSG_WAITALL), 3);
    CHECK(memcmp(buf, "far", 3) == 0);
    ns_socket_free(c);
    pthread_join(t, NULL);
    CHECK_EQ(job.accept_status, NS_OK);
    ns_socket_free(server);
    ns_options_free(o);
}

static const ns_test tests[] = {
    TEST(test_exchange_echoes_a_line),
    TEST(test_client_read_timeout_while_server_waits),
    TEST(test_waitall_timeout_returns_the_bytes_it_took),
    TEST(test_non_blocking_recv_would_block_at_once),
    TEST(test_server_side_read_timeout),
    TEST(test_accepted_socket_inherits_modes),
    TEST(test_refused_names_each_address),
    TEST(test_connect_timeout_when_syns_are_dropped),
    TEST(test_unknown_service_and_host),
    TEST(test_ai_passive_on_a_client_is_invalid),
    TEST(test_ports_over_65535_are_refused),
    TEST(test_send_to_a_closed_peer_is_closed_without_sigpipe),
    TEST(test_use_after_close),
    TEST(test_null_handles_never_crash),
    TEST(test_ipv6_loopback_exchange),
    TEST(test_server_with_null_node_binds_every_address),
    TEST(test_sockopts_peek_and_shutdown),
    TEST(test_send_all_sends_everything_on_a_non_blocking_socket),
    TEST(test_recv_on_a_listening_socket_is_invalid),
    TEST(test_peek_waitall_peeks_once_at_all_of_it),
    TEST(test_peek_waitall_at_the_read_timeout_returns_what_arrived),
    TEST(test_dontwait_on_a_blocking_socket_returns_at_once),
    TEST(test_timeouts_near_int64_max_do_not_overflow),
};
NS_TEST_MAIN(tests)
