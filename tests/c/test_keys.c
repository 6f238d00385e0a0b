/* Protected keys: encrypted PEM (PKCS#8 and legacy), encrypted DER PKCS#8
 * and PKCS#12 bundles, made by the openssl command at test time from keys
 * generated here; passwords as bytes or by a callback; every bad case is a
 * clear error that changes nothing. */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certgen.h"
#include "testlib.h"

static test_cert *ca, *leaf, *other;
static char dir[] = "/tmp/ns-keys-XXXXXX";

static const char *path(const char *name)
{
    static char bufs[8][256];
    static unsigned next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

static int sh(const char *cmd)
{
    char line[2048];
    snprintf(line, sizeof line, "cd %s && (%s) >/dev/null 2>&1", dir, cmd);
    return system(line);
}

/* The protected forms of leaf's key and a bundle, made once by openssl. */
static int setup(void)
{
    if (ca)
        return 0;
    if (mkdtemp(dir) == NULL)
        return -1;
    ca = certgen_ca("netsocket keys CA");
    leaf = certgen_leaf(ca, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 365);
    other = certgen_leaf(ca, "other", "DNS:other", -1, 365);
    if (certgen_write(ca, dir, "ca") || certgen_write(leaf, dir, "leaf") ||
        certgen_write(other, dir, "other"))
        return -1;
    return sh("openssl pkcs8 -topk8 -in leaf.key -v2 aes-256-cbc -passout pass:s3cret -out p8.pem") |
           sh("openssl ec -in leaf.key -aes-128-cbc -passout pass:s3cret -out legacy.pem") |
           sh("openssl pkcs8 -topk8 -in leaf.key -v2 aes-128-cbc -outform DER "
              "-passout pass:s3cret -out p8.der") |
           sh("openssl pkcs12 -export -inkey leaf.key -in leaf.crt -certfile ca.crt "
              "-passout pass:s3cret -out bundle.p12") |
           sh("openssl pkcs12 -export -inkey leaf.key -in leaf.crt -passout pass: -out nopass.p12");
}

static void cleanup(void)
{
    static const char *names[] = {"ca.crt", "ca.key", "leaf.crt", "leaf.key", "other.crt",
                                  "other.key", "p8.pem", "legacy.pem", "p8.der", "bundle.p12",
                                  "nopass.p12", "corrupt.p12"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(path(names[i]));
    rmdir(dir);
}

static char *slurp(const char *name, size_t *len)
{
    FILE *f = fopen(path(name), "rb");
    if (f == NULL)
        return NULL;
    char *buf = calloc(1, 65536);
    *len = fread(buf, 1, 65535, f);
    fclose(f);
    return buf;
}

/* Server options with leaf's certificate already set, so that a key that
 * loads is proved to be leaf's (the setter checks the match). */
static ns_options *with_leaf_certificate(void)
{
    ns_options *o = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    const char *crt = certgen_cert_pem(leaf);
    if (ns_options_add_certificate(o, crt, strlen(crt)) != NS_OK)
        abort();
    return o;
}

static void test_encrypted_pkcs8_pem_with_the_right_password(void)
{
    ns_options *o = with_leaf_certificate();
    CHECK_EQ(ns_options_set_private_key_file_with_password(o, path("p8.pem"), "s3cret", 6), NS_OK);
    CHECK_EQ(ns_options_has_private_key(o), 1);
    ns_options_free(o);
}

static void test_encrypted_legacy_pem_with_the_right_password(void)
{
    size_t len = 0;
    char *pem = slurp("legacy.pem", &len);
    CHECK(pem != NULL && strstr(pem, "Proc-Type: 4,ENCRYPTED") != NULL);
    ns_options *o = with_leaf_certificate();
    int rc = ns_options_set_private_key_with_password(o, pem, len, "s3cret", 6);
    free(pem);
    CHECK_EQ(rc, NS_OK);
    CHECK_EQ(ns_options_has_private_key(o), 1);
    ns_options_free(o);
}

static void test_encrypted_pkcs8_der_with_the_right_password(void)
{
    ns_options *o = with_leaf_certificate();
    CHECK_EQ(ns_options_set_private_key_file_with_password(o, path("p8.der"), "s3cret", 6), NS_OK);
    CHECK_EQ(ns_options_has_private_key(o), 1);
    ns_options_free(o);
}

/* Each encrypted form with a wrong password: the cause named, the key
 * already set kept. */
static void test_wrong_password_is_named_and_changes_nothing(void)
{
    static const char *files[] = {"p8.pem", "legacy.pem", "p8.der"};
    for (size_t i = 0; i < 3; i++) {
        ns_options *o = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
        const char *key = certgen_key_pem(other);
        CHECK_EQ(ns_options_set_private_key(o, key, strlen(key)), NS_OK);
        CHECK_EQ(ns_options_set_private_key_file_with_password(o, path(files[i]), "wrong", 5),
                 NS_ERR_INVALID);
        CHECK_STR(ns_last_error(), "private-key: wrong password (or a damaged encrypted key)");
        /* Still other's key: other's certificate is accepted as the leaf. */
        const char *crt = certgen_cert_pem(other);
        CHECK_EQ(ns_options_add_certificate(o, crt, strlen(crt)), NS_OK);
        ns_options_free(o);
    }
}

static void test_encrypted_key_without_a_password(void)
{
    ns_options *o = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_set_private_key_file(o, path("p8.pem")), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "private-key: the key is encrypted and no password was given");
    CHECK_EQ(ns_options_set_private_key_file(o, path("p8.der")), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "private-key: the key is encrypted and no password was given");
    CHECK_EQ(ns_options_set_private_key_file_with_password(o, path("legacy.pem"), "", 0),
             NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "private-key: empty password");
    char big[1100];
    memset(big, 'x', sizeof big);
    CHECK_EQ(ns_options_set_private_key_file_with_password(o, path("p8.pem"), big, sizeof big),
             NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "private-key: password longer than 1023 bytes");
    CHECK_EQ(ns_options_has_private_key(o), 0);
    ns_options_free(o);
}

typedef struct {
    const char *password; /* NULL: refuse */
    int calls;
} password_source;

static int give_password(void *userdata, char *buf, size_t size)
{
    password_source *p = userdata;
    p->calls++;
    if (p->password == NULL)
        return -1;
    size_t n = strlen(p->password);
    memcpy(buf, p->password, n);
    return (int)n;
}

static void test_password_by_callback(void)
{
    password_source src = {.password = "s3cret"};
    ns_options *o = with_leaf_certificate();
    CHECK_EQ(ns_options_set_password_callback(o, give_password, &src), NS_OK);
    void *ud = NULL;
    CHECK(ns_options_get_password_callback(o, &ud) == give_password && ud == &src);
    /* The plain setter asks the callback for an encrypted key ... */
    CHECK_EQ(ns_options_set_private_key_file(o, path("legacy.pem")), NS_OK);
    CHECK_EQ(src.calls, 1);
    /* ... and so do the password setters given none, and PKCS#12. */
    CHECK_EQ(ns_options_set_private_key_file_with_password(o, path("p8.der"), NULL, 0), NS_OK);
    CHECK_EQ(src.calls, 2);
    CHECK_EQ(ns_options_set_pkcs12_file(o, path("bundle.p12"), NULL, 0), NS_OK);
    CHECK_EQ(src.calls, 3);
    /* An unencrypted key does not ask. */
    const char *plain = certgen_key_pem(leaf);
    CHECK_EQ(ns_options_set_private_key(o, plain, strlen(plain)), NS_OK);
    CHECK_EQ(src.calls, 3);
    /* Copies keep the callback; removing it forgets the userdata. */
    ns_options *copy = ns_options_copy(o, NS_SERVER_TLS_SOCKET_OPTIONS);
    CHECK(ns_options_get_password_callback(copy, NULL) == give_password);
    ns_options_free(copy);
    CHECK_EQ(ns_options_set_password_callback(o, NULL, &src), NS_OK);
    CHECK(ns_options_get_password_callback(o, &ud) == NULL && ud == NULL);
    ns_options_free(o);
}

static void test_password_callback_refusing(void)
{
    password_source src = {.password = NULL};
    ns_options *o = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_set_password_callback(o, give_password, &src), NS_OK);
    CHECK_EQ(ns_options_set_private_key_file(o, path("p8.pem")), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "private-key: the password callback gave no password");
    CHECK_EQ(ns_options_has_private_key(o), 0);
    ns_options_free(o);
}

static void test_pkcs12_from_file_and_memory(void)
{
    ns_options *o = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_set_pkcs12_file(o, path("bundle.p12"), "s3cret", 6), NS_OK);
    CHECK_EQ(ns_options_has_private_key(o), 1);
    CHECK_EQ(ns_options_certificate_count(o), 2);
    size_t len = 0;
    const unsigned char *der = ns_options_get_certificate(o, 0, &len);
    CHECK(certgen_is(leaf, der, len));
    der = ns_options_get_certificate(o, 1, &len);
    CHECK(certgen_is(ca, der, len));
    ns_options_free(o);

    char *p12 = slurp("nopass.p12", &len);
    CHECK(p12 != NULL);
    o = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    int rc = ns_options_set_pkcs12(o, p12, len, "", 0);
    int rc_null = ns_options_set_pkcs12(o, p12, len, NULL, 0);
    free(p12);
    CHECK_EQ(rc, NS_OK);
    CHECK_EQ(rc_null, NS_OK);
    CHECK_EQ(ns_options_certificate_count(o), 1);
    ns_options_free(o);
}

static void test_pkcs12_identity_serves_a_handshake(void)
{
    ns_options *so = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, 5000000);
    CHECK_EQ(ns_options_set_pkcs12_file(so, path("bundle.p12"), "s3cret", 6), NS_OK);
    ns_socket *server = ns_make_server_tls_socket("127.0.0.1", "0", so);
    ns_options_free(so);
    CHECK(server != NULL);
    pthread_t t = spawn(accept_and_echo, server);
    ns_options *co = blocking_options(NS_TLS_SOCKET_OPTIONS, 5000000);
    const char *crt = certgen_cert_pem(ca);
    CHECK_EQ(ns_options_add_trusted_certificate(co, crt, strlen(crt)), NS_OK);
    ns_socket *c = ns_make_client_tls_socket("localhost", port_of(server), co);
    ns_options_free(co);
    char buf[8] = {0};
    int ok = c && send_text(c, "hello\n") && ns_socket_recv(c, buf, sizeof buf, 0) == 6;
    ns_socket_free(c);
    pthread_join(t, NULL);
    ns_socket_free(server);
    CHECK(ok);
    CHECK_STR(buf, "hello\n");
}

static void test_pkcs12_bad_cases_change_nothing(void)
{
    size_t len = 0;
    char *p12 = slurp("bundle.p12", &len);
    CHECK(p12 != NULL && len > 100);
    ns_options *o = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    const char *crt = certgen_cert_pem(other), *key = certgen_key_pem(other);
    CHECK_EQ(ns_options_add_certificate(o, crt, strlen(crt)), NS_OK);
    CHECK_EQ(ns_options_set_private_key(o, key, strlen(key)), NS_OK);

    CHECK_EQ(ns_options_set_pkcs12(o, p12, len, "wrong", 5), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "pkcs12: wrong password: INCORRECT_PASSWORD");
    CHECK_EQ(ns_options_set_pkcs12(o, p12, len / 2, "s3cret", 6), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "pkcs12: not a valid PKCS#12 bundle: BAD_PKCS12_DATA");
    CHECK_EQ(ns_options_set_pkcs12(o, "garbage", 7, "s3cret", 6), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "pkcs12: not a valid PKCS#12 bundle: BAD_PKCS12_DATA");
    CHECK_EQ(ns_options_set_pkcs12(o, p12, len, "s3\0cret", 7), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "pkcs12: a PKCS#12 password cannot contain a NUL byte");
    CHECK_EQ(ns_options_set_pkcs12(o, NULL, 0, "s3cret", 6), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "pkcs12: empty bundle data");
    CHECK_EQ(ns_options_set_pkcs12_file(o, path("missing.p12"), "s3cret", 6), NS_ERR_INVALID);
    char want[512];
    snprintf(want, sizeof want, "pkcs12: cannot open %s: No such file or directory",
             path("missing.p12"));
    CHECK_STR(ns_last_error(), want);
    free(p12);
    /* Still other's identity, untouched. */
    CHECK_EQ(ns_options_certificate_count(o), 1);
    const unsigned char *der = ns_options_get_certificate(o, 0, &len);
    CHECK(certgen_is(other, der, len));
    ns_options_free(o);

    ns_options *plain = ns_options_new(NS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_set_pkcs12_file(plain, path("bundle.p12"), "s3cret", 6), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "pkcs12 is not a field of socket-options");
    CHECK_EQ(ns_options_set_password_callback(plain, give_password, NULL), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "password-callback is not a field of socket-options");
    ns_options_free(plain);
}

static const ns_test tests[] = {
    TEST(test_encrypted_pkcs8_pem_with_the_right_password),
    TEST(test_encrypted_legacy_pem_with_the_right_password),
    TEST(test_encrypted_pkcs8_der_with_the_right_password),
    TEST(test_wrong_password_is_named_and_changes_nothing),
    TEST(test_encrypted_key_without_a_password),
    TEST(test_password_by_callback),
    TEST(test_password_callback_refusing),
    TEST(test_pkcs12_from_file_and_memory),
    TEST(test_pkcs12_identity_serves_a_handshake),
    TEST(test_pkcs12_bad_cases_change_nothing),
};

int main(int argc, char **argv)
{
    if (system("openssl version >/dev/null 2>&1") != 0) {
        printf("SKIP: the openssl command is not installed\n");
        return 77;
    }
    if (setup() != 0) {
        fprintf(stderr, "cannot make the protected keys with openssl in %s\n", dir);
        cleanup();
        return 1;
    }
    int rc = ns_test_main(tests, sizeof tests / sizeof tests[0], argc, argv);
    cleanup();
    return rc;
}
