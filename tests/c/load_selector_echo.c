/* Drives 2,000 concurrent loopback connections (1,000 plain, 1,000 TLS)
 * through examples/selector_echo_server and checks every byte came back.
 *   load_selector_echo PATH/TO/selector_echo_server */
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "certgen.h"
#include "testlib.h"

#define PER_KIND 1000
#define TOTAL (2 * PER_KIND)
#define PAYLOAD 4096

extern char **environ;

static const char *server_path;
static pid_t server_pid = -1;
static FILE *server_out;

typedef struct {
    ns_socket *s;
    size_t got;
} conn;

static conn conns[TOTAL];

static unsigned char expected_byte(int id, size_t i) { return (unsigned char)(id * 31 + i * 7); }

static int start_server(const char *dir, int *plain_port, int *tls_port)
{
    char crt[512], key[512];
    snprintf(crt, sizeof crt, "%s/server.crt", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    int out[2];
    if (pipe(out) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    char *args[] = {(char *)server_path, "0", "0", crt, key, NULL};
    setenv("ECHO_MAX_CONNECTIONS", "2000", 1);
    int rc = posix_spawn(&server_pid, server_path, &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (rc != 0)
        return -1;
    server_out = fdopen(out[0], "r");
    return fscanf(server_out, "plain %d tls %d", plain_port, tls_port) == 2 ? 0 : -1;
}

/* Waits at most ~10 s for the server to exit; returns its exit status. */
static int reap_server(void)
{
    int status = -1;
    for (int i = 0; i < 1000; i++) {
        if (waitpid(server_pid, &status, WNOHANG) == server_pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        usleep(10000);
    }
    kill(server_pid, SIGKILL);
    waitpid(server_pid, &status, 0);
    return -1;
}

static ns_socket *open_client(int id, const char *plain, const char *tls, ns_options *po,
                              ns_options *to)
{
    return id < PER_KIND ? ns_make_client_socket("127.0.0.1", plain, po)
                         : ns_make_client_tls_socket("localhost", tls, to);
}

static void test_two_thousand_concurrent_plain_and_tls_clients(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl); /* the server inherits it */
    CHECK(rl.rlim_cur >= TOTAL + 100);

    char dir[] = "/tmp/ns-load-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    test_cert *ca = certgen_ca("load CA");
    test_cert *leaf = certgen_leaf(ca, "localhost", "DNS:localhost", -1, 30);
    CHECK_EQ(certgen_write(leaf, dir, "server"), 0);
    int plain_port = 0, tls_port = 0;
    CHECK_EQ(start_server(dir, &plain_port, &tls_port), 0);
    char plain[16], tls[16];
    snprintf(plain, sizeof plain, "%d", plain_port);
    snprintf(tls, sizeof tls, "%d", tls_port);

    ns_options *po = blocking_options(NS_SOCKET_OPTIONS, 20000000);
    ns_options *to = blocking_options(NS_TLS_SOCKET_OPTIONS, 20000000);
    ns_options_add_trusted_certificate(to, certgen_cert_pem(ca), strlen(certgen_cert_pem(ca)));
    unsigned char payload[PAYLOAD];
    for (int id = 0; id < TOTAL; id++) {
        conns[id].s = open_client(id, plain, tls, po, to);
        CHECK(conns[id].s != NULL);
        for (size_t i = 0; i < PAYLOAD; i++)
            payload[i] = expected_byte(id, i);
        CHECK_EQ(ns_socket_send_all(conns[id].s, payload, PAYLOAD, 0), PAYLOAD);
        ns_socket_set_non_blocking(conns[id].s, 1);
    }
    /* All 2,000 are open at once; now collect every echo on one selector. */
    ns_selector *sel = ns_selector_new();
    for (int id = 0; id < TOTAL; id++)
        CHECK_EQ(ns_selector_add(sel, conns[id].s, 30000000, &conns[id]), NS_OK);
    int complete = 0, corrupt = 0;
    int64_t give_up = now_us() + 60000000;
    while (complete + corrupt < TOTAL && now_us() < give_up) {
        int n = ns_selector_wait(sel, 1000000);
        for (int i = 0; i < n; i++) {
            conn *c = ns_selector_event_data(sel, i);
            int id = (int)(c - conns);
            unsigned char buf[PAYLOAD];
            ssize_t got = ns_selector_event_timed_out(sel, i)
                              ? -1
                              : ns_socket_recv(c->s, buf, PAYLOAD - c->got, 0);
            for (ssize_t k = 0; k < got; k++)
                corrupt += buf[k] != expected_byte(id, c->got + (size_t)k);
            if (got > 0)
                c->got += (size_t)got;
            if (c->got == PAYLOAD) {
                complete++;
                ns_socket_free(c->s);
                c->s = NULL;
            } else if (got > 0 || got == NS_ERR_WOULD_BLOCK) {
                ns_selector_add(sel, c->s, 30000000, c);
            } else {
                corrupt++;
            }
        }
    }
    CHECK_EQ(corrupt, 0);
    CHECK_EQ(complete, TOTAL);
    CHECK_EQ(reap_server(), 0);
    char line[128] = "";
    int served = 0;
    while (!served && fgets(line, sizeof line, server_out) != NULL)
        served = strstr(line, "served 2000 connections") != NULL;
    CHECK(served);
    ns_selector_free(sel);
    for (int id = 0; id < TOTAL; id++)
        ns_socket_free(conns[id].s);
    ns_options_free(po);
    ns_options_free(to);
    fclose(server_out);
    char path[600];
    snprintf(path, sizeof path, "%s/server.crt", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/server.key", dir);
    unlink(path);
    rmdir(dir);
    certgen_free(ca);
    certgen_free(leaf);
}

static const ns_test tests[] = {
    TEST(test_two_thousand_concurrent_plain_and_tls_clients),
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: load_selector_echo PATH/TO/selector_echo_server\n");
        return 2;
    }
    server_path = argv[1];
    int rc = ns_test_main(tests, 1, 1, argv);
    if (server_pid > 0 && waitpid(server_pid, NULL, WNOHANG) == 0) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
    }
    return rc;
}
