/* The key log: opt-in, NSS key log lines to a file or a callback, one
 * per secret; never turned on by the environment; bad paths refused. */
#include <sys/stat.h>
#include <unistd.h>

#include "certgen.h"
#include "testlib.h"

static test_cert *ca, *leaf;

static void setup(void)
{
    if (!ca) {
        ca = certgen_ca("netsocket key log CA");
        leaf = certgen_leaf(ca, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 365);
    }
}

/* One TLS 1.3 exchange between so and co on loopback; 1 on success. */
static int exchange(ns_options *so, ns_options *co)
{
    setup();
    const char *crt = certgen_cert_pem(leaf), *key = certgen_key_pem(leaf), *anchor = certgen_cert_pem(ca);
    if (ns_options_add_certificate(so, crt, strlen(crt)) || ns_options_set_private_key(so, key, strlen(key)) ||
        ns_options_add_trusted_certificate(co, anchor, strlen(anchor)))
        return 0;
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    if (server == NULL)
        return 0;
    pthread_t t = spawn(accept_and_echo, server);
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), co);
    char buf[8] = {0};
    int ok = c && send_text(c, "hello\n") && ns_socket_recv(c, buf, sizeof buf, 0) == 6;
    ns_socket_free(c);
    pthread_join(t, NULL);
    ns_socket_free(server);
    return ok;
}

typedef struct {
    char lines[16][256];
    int n;
    int released;
} collected;

static void collect(void *userdata, const char *line)
{
    collected *c = userdata;
    if (c->n < 16)
        snprintf(c->lines[c->n++], sizeof c->lines[0], "%s", line);
}

static void release_collected(void *userdata) { ((collected *)userdata)->released++; }

/* The label of line i (up to the first space). */
static const char *label(const collected *c, int i)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "%.*s", (int)strcspn(c->lines[i], " "), c->lines[i]);
    return buf;
}

/* TLS 1.3 logs five secrets per side, each "LABEL <client random> <secret>"
 * with 64 hex digits for each value (SHA-256 suites). */
static void test_callback_gets_the_tls13_secrets(void)
{
    collected got = {0};
    ns_options *so = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, 5000000);
    ns_options *co = blocking_options(NS_TLS_SOCKET_OPTIONS, 5000000);
    CHECK_EQ(ns_options_set_key_log_callback(co, collect, &got, release_collected), NS_OK);
    void *ud = NULL;
    CHECK(ns_options_get_key_log_callback(co, &ud) == collect && ud == &got);
    CHECK(ns_options_get_key_log_file(co) == NULL);
    int ok = exchange(so, co);
    ns_options_free(so);
    ns_options_free(co);
    CHECK(ok);
    CHECK_EQ(got.released, 1);
    CHECK_EQ(got.n, 5);
    CHECK_STR(label(&got, 0), "CLIENT_HANDSHAKE_TRAFFIC_SECRET");
    CHECK_STR(label(&got, 1), "SERVER_HANDSHAKE_TRAFFIC_SECRET");
    CHECK_STR(label(&got, 2), "CLIENT_TRAFFIC_SECRET_0");
    CHECK_STR(label(&got, 3), "SERVER_TRAFFIC_SECRET_0");
    CHECK_STR(label(&got, 4), "EXPORTER_SECRET");
    for (int i = 0; i < 5; i++) {
        const char *rest = got.lines[i] + strlen(label(&got, i));
        CHECK_EQ(strlen(rest), 1 + 64 + 1 + 64);
        CHECK_EQ(strspn(rest + 1, "0123456789abcdef"), 64);
        CHECK_EQ(strspn(rest + 66, "0123456789abcdef"), 64);
        CHECK(strncmp(rest, got.lines[0] + strlen(label(&got, 0)), 66) == 0); /* one client random */
    }
}

static void test_server_side_key_log_file_appends_with_mode_0600(void)
{
    char dir[] = "/tmp/ns-keylog-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char file[128];
    snprintf(file, sizeof file, "%s/keys.log", dir);
    ns_options *so = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, 5000000);
    CHECK_EQ(ns_options_set_key_log_file(so, file), NS_OK);
    CHECK_STR(ns_options_get_key_log_file(so), file);
    CHECK(ns_options_get_key_log_callback(so, NULL) == NULL);
    ns_options *co1 = blocking_options(NS_TLS_SOCKET_OPTIONS, 5000000);
    ns_options *so2 = ns_options_copy(so, NS_SERVER_TLS_SOCKET_OPTIONS);
    ns_options *co2 = blocking_options(NS_TLS_SOCKET_OPTIONS, 5000000);
    int ok = exchange(so, co1) && exchange(so2, co2);
    ns_options_free(so);
    ns_options_free(so2);
    ns_options_free(co1);
    ns_options_free(co2);
    struct stat st;
    int st_ok = stat(file, &st) == 0;
    FILE *f = fopen(file, "r");
    int lines = 0;
    char line[512];
    while (f && fgets(line, sizeof line, f))
        lines += line[strlen(line) - 1] == '\n';
    if (f)
        fclose(f);
    unlink(file);
    rmdir(dir);
    CHECK(ok && st_ok);
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_EQ(lines, 10); /* two handshakes, five secrets each */
}

static void test_environment_does_not_turn_it_on(void)
{
    char dir[] = "/tmp/ns-keylog-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char file[128];
    snprintf(file, sizeof file, "%s/env.log", dir);
    setenv("SSLKEYLOGFILE", file, 1);
    ns_options *so = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, 5000000);
    ns_options *co = blocking_options(NS_TLS_SOCKET_OPTIONS, 5000000);
    int ok = exchange(so, co);
    unsetenv("SSLKEYLOGFILE");
    ns_options_free(so);
    ns_options_free(co);
    int exists = access(file, F_OK) == 0;
    unlink(file);
    rmdir(dir);
    CHECK(ok);
    CHECK_EQ(exists, 0);
}

static void test_bad_key_log_settings_change_nothing(void)
{
    ns_options *o = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    collected got = {0};
    CHECK_EQ(ns_options_set_key_log_callback(o, collect, &got, NULL), NS_OK);
    CHECK_EQ(ns_options_set_key_log_file(o, "/nonexistent-dir/keys.log"), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "key-log: cannot open /nonexistent-dir/keys.log: No such file or directory");
    CHECK_EQ(ns_last_os_error(), 2);
    CHECK_EQ(ns_options_set_key_log_file(o, ""), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "key-log: empty file name");
    CHECK(ns_options_get_key_log_callback(o, NULL) == collect);
    CHECK_EQ(ns_options_set_key_log_file(o, NULL), NS_OK);
    CHECK(ns_options_get_key_log_callback(o, NULL) == NULL);
    ns_options_free(o);

    ns_options *plain = ns_options_new(NS_SOCKET_OPTIONS);
    got.released = 0;
    CHECK_EQ(ns_options_set_key_log_callback(plain, collect, &got, release_collected), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "key-log is not a field of socket-options");
    CHECK_EQ(got.released, 1); /* released also on failure */
    CHECK_EQ(ns_options_set_key_log_file(plain, "/tmp/x"), NS_ERR_INVALID);
    ns_options_free(plain);
}

static const ns_test tests[] = {
    TEST(test_callback_gets_the_tls13_secrets),
    TEST(test_server_side_key_log_file_appends_with_mode_0600),
    TEST(test_environment_does_not_turn_it_on),
    TEST(test_bad_key_log_settings_change_nothing),
};

NS_TEST_MAIN(tests)
