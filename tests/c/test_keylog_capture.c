/* The key log decrypts a real capture: dumpcap records one TLS exchange on
 * lo (port filter, bounded in time), then tshark, given the key log the
 * server wrote, shows the plaintext, which neither the capture's bytes nor
 * tshark without the key log show.  Skipped (77) when tshark/dumpcap are
 * missing or capturing on lo is not allowed (not root). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "certgen.h"
#include "testlib.h"

#define SECRET "the secret payload 4242"

static char dir[] = "/tmp/ns-capture-XXXXXX";
static char keys[128], cap[128];
static const char *skip_reason;

static off_t size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

/* dumpcap says "Capturing on" before its filter is in place: UDP datagrams
 * to the same port (nobody listens: they are just packets on lo) until the
 * capture file grows proves it records. */
static int wait_until_recording(int port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    off_t start = size_of(cap);
    int64_t deadline = now_us() + SLACK(10000000);
    int grew = 0;
    while (!grew && now_us() < deadline) {
        sendto(fd, "probe", 5, 0, (struct sockaddr *)&to, sizeof to);
        usleep(50000);
        grew = size_of(cap) > start && size_of(cap) > 400;
    }
    close(fd);
    return grew;
}

/* Starts dumpcap on lo for port `port`; waits until it records.
 * Returns its pid, or -1 (skip_reason set). */
static pid_t start_capture(int port)
{
    int err[2];
    if (pipe(err) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        char filter[64];
        snprintf(filter, sizeof filter, "port %d", port);
        dup2(err[1], 2);
        dup2(err[1], 1);
        execlp("dumpcap", "dumpcap", "-q", "-i", "lo", "-f", filter, "-a", "duration:60", "-w",
               cap, (char *)NULL);
        _exit(127);
    }
    close(err[1]);
    char out[2048] = {0};
    size_t used = 0;
    int64_t deadline = now_us() + SLACK(10000000);
    while (strstr(out, "Capturing on") == NULL && now_us() < deadline) {
        struct pollfd p = {err[0], POLLIN, 0};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t n = read(err[0], out + used, sizeof out - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
    }
    close(err[0]);
    if (strstr(out, "Capturing on") == NULL || !wait_until_recording(port)) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        static char why[2200];
        snprintf(why, sizeof why, "dumpcap cannot capture on lo: %s",
                 strstr(out, "Capturing on") ? "it records nothing" : out);
        skip_reason = why;
        return -1;
    }
    return pid;
}

static void stop_capture(pid_t pid)
{
    kill(pid, SIGINT);
    for (int i = 0; i < 100; i++) { /* at most 10 s */
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(100000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* tshark's view of the first TLS stream, decrypted with keylog if given. */
static char *follow(const char *keylog)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "tshark -r %s %s%s -q -z follow,tls,ascii,0 2>/dev/null", cap,
             keylog ? "-o tls.keylog_file:" : "", keylog ? keylog : "");
    FILE *p = popen(cmd, "r");
    char *out = calloc(1, 65536);
    size_t n = p ? fread(out, 1, 65535, p) : 0;
    if (p)
        pclose(p);
    out[n] = '\0';
    return out;
}

static int file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 1 << 20);
    size_t n = f ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    if (f)
        fclose(f);
    int found = memmem(buf, n, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}

static void test_wireshark_decrypts_a_capture_with_the_key_log(void)
{
    test_cert *ca = certgen_ca("netsocket capture CA");
    test_cert *leaf = certgen_leaf(ca, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 365);
    const char *crt = certgen_cert_pem(leaf), *key = certgen_key_pem(leaf), *anchor = certgen_cert_pem(ca);
    ns_options *so = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, 5000000);
    ns_options *co = blocking_options(NS_TLS_SOCKET_OPTIONS, 5000000);
    CHECK_EQ(ns_options_add_certificate(so, crt, strlen(crt)), NS_OK);
    CHECK_EQ(ns_options_set_private_key(so, key, strlen(key)), NS_OK);
    CHECK_EQ(ns_options_set_key_log_file(so, keys), NS_OK);
    CHECK_EQ(ns_options_add_trusted_certificate(co, anchor, strlen(anchor)), NS_OK);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    CHECK(server != NULL);
    pid_t dumpcap = start_capture(ns_socket_local_port(server));
    if (dumpcap < 0) {
        ns_socket_free(server);
        ns_options_free(so);
        ns_options_free(co);
        return;
    }
    pthread_t t = spawn(accept_and_echo, server);
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), co);
    char buf[64] = {0};
    int ok = c && send_text(c, SECRET "\n") && ns_socket_recv(c, buf, sizeof buf, 0) == 24;
    ns_socket_free(c);
    pthread_join(t, NULL);
    ns_socket_free(server);
    ns_options_free(so);
    ns_options_free(co);
    usleep(500000); /* let dumpcap write the last packets */
    stop_capture(dumpcap);
    certgen_free(leaf);
    certgen_free(ca);
    CHECK(ok);
    CHECK_STR(buf, SECRET "\n");
    char *plain = follow(keys), *opaque = follow(NULL);
    int decrypted = strstr(plain, SECRET) != NULL, leaked = strstr(opaque, SECRET) != NULL;
    if (!decrypted)
        fprintf(stderr, "  tshark with the key log:\n%s\n", plain);
    free(plain);
    free(opaque);
    CHECK(decrypted);
    CHECK(!leaked);
    CHECK(!file_has(cap, SECRET));
}

static const ns_test tests[] = {
    TEST(test_wireshark_decrypts_a_capture_with_the_key_log),
};

int main(int argc, char **argv)
{
    if (system("command -v tshark >/dev/null && command -v dumpcap >/dev/null") != 0) {
        printf("SKIP: tshark/dumpcap not installed\n");
        return 77;
    }
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(keys, sizeof keys, "%s/keys.log", dir);
    snprintf(cap, sizeof cap, "%s/lo.pcapng", dir);
    int rc = ns_test_main(tests, sizeof tests / sizeof tests[0], argc, argv);
    if (getenv("NS_TEST_KEEP") == NULL) { /* for looking at a failure */
        unlink(keys);
        unlink(cap);
        rmdir(dir);
    }
    if (skip_reason) {
        printf("SKIP: %s\n", skip_reason);
        return 77;
    }
    return rc;
}
