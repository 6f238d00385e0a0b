/* Encrypted Client Hello between netsocket clients and servers: accepted
 * (the real name hidden on the wire), rejected with retry configs and the
 * retry that then succeeds, GREASE, and every bad key or list refused. */
#include <unistd.h>

#include "certgen.h"
#include "testlib.h"

#define PUBLIC_NAME "public.test"
#define HIDDEN_NAME "secret.test"

static test_cert *ca, *leaf;

static void setup(void)
{
    if (!ca) {
        ca = certgen_ca("netsocket ECH CA");
        leaf = certgen_leaf(ca, HIDDEN_NAME, "DNS:" HIDDEN_NAME ",DNS:" PUBLIC_NAME, -1, 365);
    }
}

/* Server options with leaf's identity and one fresh ECH key. */
static ns_options *ech_server_options(int with_key)
{
    setup();
    ns_options *o = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, 5000000);
    const char *crt = certgen_cert_pem(leaf), *key = certgen_key_pem(leaf);
    if (ns_options_add_certificate(o, crt, strlen(crt)) || ns_options_set_private_key(o, key, strlen(key)) ||
        (with_key && ns_options_generate_ech_key(o, PUBLIC_NAME, 7)))
        abort();
    return o;
}

static ns_options *client_options(const unsigned char *list, size_t len)
{
    setup();
    ns_options *o = blocking_options(NS_TLS_SOCKET_OPTIONS, 5000000);
    const char *anchor = certgen_cert_pem(ca);
    if (ns_options_add_trusted_certificate(o, anchor, strlen(anchor)) ||
        (list && ns_options_set_ech_config_list(o, list, len)))
        abort();
    ns_options_add_sni(o, HIDDEN_NAME);
    return o;
}

typedef struct {
    ns_socket *server;
    int ok, accepted;
    char name[64];
} server_job;

static void *serve_one(void *arg)
{
    server_job *job = arg;
    ns_socket *conn = ns_socket_accept(job->server);
    job->ok = conn != NULL;
    if (conn) {
        job->accepted = ns_socket_ech_accepted(conn);
        const char *n = ns_socket_server_name(conn);
        snprintf(job->name, sizeof job->name, "%s", n ? n : "");
        echo_line(conn);
        ns_socket_free(conn);
    }
    return NULL;
}

static void test_ech_accepted_and_the_inner_name_reaches_the_server(void)
{
    ns_options *so = ech_server_options(1);
    size_t len = 0;
    const unsigned char *list = ns_options_get_published_ech_config_list(so, &len);
    CHECK(list != NULL && len > 20);
    CHECK_EQ(ns_options_ech_key_count(so), 1);
    ns_options *co = client_options(list, len);
    size_t got_len = 0;
    CHECK(memcmp(ns_options_get_ech_config_list(co, &got_len), list, len) == 0 && got_len == len);
    server_job job = {.server = ns_make_server_tls_socket("127.0.0.1", "0", so)};
    ns_options_free(so);
    CHECK(job.server != NULL);
    pthread_t t = spawn(serve_one, &job);
    ns_socket *c = ns_make_client_tls_socket("127.0.0.1", port_of(job.server), co);
    ns_options_free(co);
    int accepted = ns_socket_ech_accepted(c), echoed = c && send_text(c, "hi\n");
    char buf[8] = {0};
    echoed = echoed && ns_socket_recv(c, buf, sizeof buf, 0) == 3;
    ns_socket_free(c);
    pthread_join(t, NULL);
    ns_socket_free(job.server);
    CHECK(echoed);
    CHECK_EQ(accepted, 1);
    CHECK(job.ok);
    CHECK_EQ(job.accepted, 1);
    CHECK_STR(job.name, HIDDEN_NAME);
}

/* A plain listener reads the client's first flight: the public name is in
 * it, the hidden one is not. */
typedef struct {
    ns_socket *listener;
    unsigned char hello[4096];
    ssize_t len;
} sniff_job;

static void *sniff(void *arg)
{
    sniff_job *job = arg;
    ns_socket *conn = ns_socket_accept(job->listener);
    job->len = 0;
    /* The whole first record: 5-byte header, then its length. */
    for (int i = 0; conn && i < 100; i++) {
        ssize_t n = ns_socket_recv(conn, job->hello + job->len, sizeof job->hello - job->len, 0);
        if (n <= 0)
            break;
        job->len += n;
        if (job->len >= 5 && job->len >= 5 + ((job->hello[3] << 8) | job->hello[4]))
            break;
    }
    ns_socket_free(conn);
    return NULL;
}

static void test_the_wire_shows_only_the_public_name(void)
{
    ns_options *so = ech_server_options(1);
    size_t len = 0;
    const unsigned char *list = ns_options_get_published_ech_config_list(so, &len);
    ns_options *co = client_options(list, len);
    ns_options_free(so);
    ns_options *plain = blocking_options(NS_SOCKET_OPTIONS, SLACK(2000000));
    sniff_job job = {.listener = ns_make_server_socket("127.0.0.1", "0", plain)};
    ns_options_free(plain);
    CHECK(job.listener != NULL);
    ns_options_set_connection_timeout(co, SLACK(1000000));
    pthread_t t = spawn(sniff, &job);
    ns_socket *c = ns_make_client_tls_socket("127.0.0.1", port_of(job.listener), co);
    ns_options_free(co);
    ns_socket_free(c); /* no server answered: the handshake timed out */
    pthread_join(t, NULL);
    ns_socket_free(job.listener);
    CHECK(c == NULL);
    CHECK(job.len > 200);
    CHECK(memmem(job.hello, (size_t)job.len, PUBLIC_NAME, strlen(PUBLIC_NAME)) != NULL);
    CHECK(memmem(job.hello, (size_t)job.len, HIDDEN_NAME, strlen(HIDDEN_NAME)) == NULL);
}

static void test_rejected_ech_reports_retry_configs_and_the_retry_succeeds(void)
{
    ns_options *so = ech_server_options(1);
    ns_options *stale = ech_server_options(1); /* another key, same public name */
    size_t stale_len = 0, len = 0;
    const unsigned char *stale_list = ns_options_get_published_ech_config_list(stale, &stale_len);
    const unsigned char *list = ns_options_get_published_ech_config_list(so, &len);
    ns_options *co = client_options(stale_list, stale_len);
    server_job job = {.server = ns_make_server_tls_socket("127.0.0.1", "0", so)};
    CHECK(job.server != NULL);
    pthread_t t = spawn(serve_one, &job);
    ns_socket *c = ns_make_client_tls_socket("127.0.0.1", port_of(job.server), co);
    int status = ns_last_status();
    char msg[512];
    snprintf(msg, sizeof msg, "%s", ns_last_error());
    size_t retry_len = 0;
    const unsigned char *retry = ns_last_ech_retry_configs(&retry_len);
    pthread_join(t, NULL);
    CHECK(c == NULL);
    CHECK_EQ(status, NS_ERR_TLS);
    char want[512];
    snprintf(want, sizeof want,
             "TLS handshake with 127.0.0.1:%s: the server rejected ECH and sent retry configs: "
             "retry with them (ns_last_ech_retry_configs)", port_of(job.server));
    CHECK_STR(msg, want);
    CHECK(retry != NULL);
    CHECK_EQ(retry_len, len);
    CHECK(memcmp(retry, list, len) == 0);

    /* The retry with the server's configs is accepted. */
    CHECK_EQ(ns_options_set_ech_config_list(co, retry, retry_len), NS_OK);
    t = spawn(serve_one, &job);
    c = ns_make_client_tls_socket("127.0.0.1", port_of(job.server), co);
    int accepted = ns_socket_ech_accepted(c), echoed = c && send_text(c, "hi\n");
    char buf[8] = {0};
    echoed = echoed && ns_socket_recv(c, buf, sizeof buf, 0) == 3;
    ns_socket_free(c);
    pthread_join(t, NULL);
    CHECK(echoed);
    CHECK_EQ(accepted, 1);
    CHECK_EQ(job.accepted, 1);

    /* With handshake 0 the socket outlives the rejection and holds the configs. */
    CHECK_EQ(ns_options_set_ech_config_list(co, stale_list, stale_len), NS_OK);
    CHECK_EQ(ns_options_set_handshake(co, 0), NS_OK);
    t = spawn(serve_one, &job);
    c = ns_make_client_tls_socket("127.0.0.1", port_of(job.server), co);
    CHECK(c != NULL);
    CHECK(ns_socket_ech_retry_configs(c, &retry_len) == NULL && retry_len == 0);
    CHECK_EQ(ns_socket_handshake(c), NS_ERR_TLS);
    retry = ns_socket_ech_retry_configs(c, &retry_len);
    int same = retry && retry_len == len && memcmp(retry, list, len) == 0;
    ns_socket_free(c);
    pthread_join(t, NULL);
    ns_socket_free(job.server);
    ns_options_free(so);
    ns_options_free(stale);
    ns_options_free(co);
    CHECK(same);
}

static int grease_exchange(int server_has_keys, int *accepted)
{
    ns_options *so = ech_server_options(server_has_keys);
    ns_options *co = client_options(NULL, 0);
    ns_options_set_ech_grease(co, 1);
    server_job job = {.server = ns_make_server_tls_socket("127.0.0.1", "0", so)};
    ns_options_free(so);
    if (job.server == NULL)
        return 0;
    pthread_t t = spawn(serve_one, &job);
    ns_socket *c = ns_make_client_tls_socket("127.0.0.1", port_of(job.server), co);
    ns_options_free(co);
    int client_accepted = ns_socket_ech_accepted(c);
    int ok = c && send_text(c, "hi\n");
    char buf[8];
    ok = ok && ns_socket_recv(c, buf, sizeof buf, 0) == 3;
    ns_socket_free(c);
    pthread_join(t, NULL);
    *accepted = client_accepted + job.accepted;
    ns_socket_free(job.server);
    return ok && job.ok && strcmp(job.name, HIDDEN_NAME) == 0;
}

static void test_grease_connects_without_ech(void)
{
    ns_options *o = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_get_ech_grease(o), 0);
    CHECK_EQ(ns_options_set_ech_grease(o, 1), NS_OK);
    CHECK_EQ(ns_options_get_ech_grease(o), 1);
    ns_options_free(o);
    int accepted = -1;
    CHECK(grease_exchange(0, &accepted));
    CHECK_EQ(accepted, 0);
    CHECK(grease_exchange(1, &accepted)); /* a server with keys ignores GREASE */
    CHECK_EQ(accepted, 0);
}

static void test_bad_ech_input_changes_nothing(void)
{
    ns_options *so = ech_server_options(1);
    size_t len = 0;
    const unsigned char *list = ns_options_get_published_ech_config_list(so, &len);
    unsigned char before[512];
    CHECK(len <= sizeof before);
    memcpy(before, list, len);
    unsigned char key[32] = {1};
    /* An ECHConfig of the list (past the list's 2-byte length). */
    const unsigned char *config = list + 2;
    size_t config_len = len - 2;
    CHECK_EQ(ns_options_add_ech_key(so, key, 31, config, config_len, 1), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "ech-keys: not an X25519 private key (32 bytes): DECODE_ERROR");
    CHECK_EQ(ns_options_add_ech_key(so, key, 32, "garbage", 7, 1), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "ech-keys: the ECHConfig does not parse or does not match the key: DECODE_ERROR");
    CHECK_EQ(ns_options_add_ech_key(so, key, 32, config, config_len, 1), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "ech-keys: the ECHConfig does not parse or does not match the key: ECH_SERVER_CONFIG_AND_PRIVATE_KEY_MISMATCH");
    CHECK_EQ(ns_options_generate_ech_key(so, PUBLIC_NAME, 256), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "ech-keys: config id 256 is not 0..255");
    CHECK_EQ(ns_options_generate_ech_key(so, "", 1), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "ech-keys: the public name must be 1..255 bytes");
    CHECK_EQ(ns_options_ech_key_count(so), 1);
    list = ns_options_get_published_ech_config_list(so, &len);
    CHECK(memcmp(list, before, len) == 0);

    ns_options *lonely = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_generate_ech_key(lonely, PUBLIC_NAME, 1), NS_OK);
    CHECK_EQ(ns_options_ech_key_count(lonely), 1);
    CHECK_EQ(ns_options_clear_ech_keys(lonely), NS_OK);
    CHECK(ns_options_get_published_ech_config_list(lonely, &len) == NULL && len == 0);
    ns_options_free(lonely);

    ns_options *co = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_set_ech_config_list(co, before, 5), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "ech-config-list: not a valid ECHConfigList: INVALID_ECH_CONFIG_LIST");
    CHECK(ns_options_get_ech_config_list(co, &len) == NULL && len == 0);
    CHECK_EQ(ns_options_add_ech_key(co, key, 32, config, config_len, 1), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "ech-keys is not a field of tls-socket-options");
    ns_options_free(co);
    ns_options *plain = ns_options_new(NS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_set_ech_config_list(plain, before, len), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "ech-config-list is not a field of socket-options");
    ns_options_free(plain);
    ns_options_free(so);
}

/* ECH is decrypted before the certificate is chosen: the hidden name picks
 * its identity, while the public name alone would get the default. */
static void test_hidden_name_picks_the_server_identity(void)
{
    setup();
    ns_options *so = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, 5000000);
    test_cert *public_only = certgen_leaf(ca, PUBLIC_NAME, "DNS:" PUBLIC_NAME, -1, 365);
    const char *crt = certgen_cert_pem(public_only), *key = certgen_key_pem(public_only);
    const char *lcrt = certgen_cert_pem(leaf), *lkey = certgen_key_pem(leaf);
    CHECK_EQ(ns_options_add_certificate(so, crt, strlen(crt)), NS_OK);
    CHECK_EQ(ns_options_set_private_key(so, key, strlen(key)), NS_OK);
    CHECK_EQ(ns_options_add_identity(so, lcrt, strlen(lcrt), lkey, strlen(lkey)), NS_OK);
    CHECK_EQ(ns_options_generate_ech_key(so, PUBLIC_NAME, 2), NS_OK);
    size_t len = 0;
    const unsigned char *list = ns_options_get_published_ech_config_list(so, &len);
    ns_options *co = client_options(list, len); /* SNI: the hidden name */
    server_job job = {.server = ns_make_server_tls_socket("127.0.0.1", "0", so)};
    ns_options_free(so);
    CHECK(job.server != NULL);
    pthread_t t = spawn(serve_one, &job);
    ns_socket *c = ns_make_client_tls_socket("127.0.0.1", port_of(job.server), co);
    ns_options_free(co);
    size_t der_len = 0;
    const unsigned char *der = c ? ns_socket_peer_certificate(c, &der_len) : NULL;
    int got_leaf = der && certgen_is(leaf, der, der_len);
    int accepted = ns_socket_ech_accepted(c);
    char buf[8];
    if (c && send_text(c, "hi\n"))
        ns_socket_recv(c, buf, sizeof buf, 0);
    ns_socket_free(c);
    pthread_join(t, NULL);
    ns_socket_free(job.server);
    certgen_free(public_only);
    CHECK(got_leaf);
    CHECK_EQ(accepted, 1);
    CHECK_STR(job.name, HIDDEN_NAME);
}

static const ns_test tests[] = {
    TEST(test_ech_accepted_and_the_inner_name_reaches_the_server),
    TEST(test_the_wire_shows_only_the_public_name),
    TEST(test_rejected_ech_reports_retry_configs_and_the_retry_succeeds),
    TEST(test_grease_connects_without_ech),
    TEST(test_bad_ech_input_changes_nothing),
    TEST(test_hidden_name_picks_the_server_identity),
};

NS_TEST_MAIN(tests)
