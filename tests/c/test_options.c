/* Options: defaults, predicates, kinds, copy, certificates and keys. */
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include "certgen.h"
#include "testlib.h"

static test_cert *ca, *leaf, *other;

static void setup(void)
{
    if (!ca) {
        ca = certgen_ca("Test CA");
        leaf = certgen_leaf(ca, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 365);
        other = certgen_leaf(ca, "other", "DNS:other", -1, 365);
    }
}

static void test_defaults_match_the_seed(void)
{
    for (int kind = NS_SOCKET_OPTIONS; kind <= NS_SERVER_TLS_SOCKET_OPTIONS; kind++) {
        ns_options *o = ns_options_new(kind);
        CHECK(o != NULL);
        CHECK_EQ(ns_options_kind_of(o), kind);
        CHECK_EQ(ns_options_get_ai_family(o), AF_INET);
        CHECK_EQ(ns_options_get_ai_socktype(o), SOCK_STREAM);
        CHECK_EQ(ns_options_get_ai_flags(o), AI_V4MAPPED);
        CHECK_EQ(ns_options_get_ai_protocol(o), 0);
        CHECK_EQ(ns_options_get_non_blocking(o), 1);
        CHECK_EQ(ns_options_get_connection_timeout(o), -1);
        CHECK_EQ(ns_options_get_read_timeout(o), -1);
        CHECK_EQ(ns_options_get_handshake(o), 1);
        CHECK_EQ(ns_options_has_private_key(o), 0);
        CHECK_EQ(ns_options_certificate_count(o), 0);
        CHECK_EQ(ns_options_sni_count(o), 0);
        CHECK_EQ(ns_options_alpn_count(o), 0);
        CHECK_EQ(ns_options_trusted_certificate_count(o), 0);
        CHECK_EQ(ns_options_get_client_certificate_required(o), 0);
        CHECK(ns_options_get_certificate_verifier(o, NULL) == NULL);
        ns_options_free(o);
    }
}

static void test_predicates(void)
{
    ns_options *plain = ns_options_new(NS_SOCKET_OPTIONS);
    ns_options *tls = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    ns_options *server = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    CHECK(ns_options_is_socket(plain) && ns_options_is_socket(tls) && ns_options_is_socket(server));
    CHECK(!ns_options_is_tls(plain) && ns_options_is_tls(tls) && ns_options_is_tls(server));
    CHECK(!ns_options_is_server_tls(plain) && !ns_options_is_server_tls(tls) &&
          ns_options_is_server_tls(server));
    CHECK(!ns_options_is_socket(NULL) && !ns_options_is_tls(NULL) && !ns_options_is_server_tls(NULL));
    ns_options_free(plain);
    ns_options_free(tls);
    ns_options_free(server);
}

static void test_setters_and_getters_round_trip(void)
{
    ns_options *o = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_set_ai_family(o, AF_INET6), NS_OK);
    CHECK_EQ(ns_options_set_ai_flags(o, AI_ADDRCONFIG), NS_OK);
    CHECK_EQ(ns_options_set_ai_protocol(o, IPPROTO_TCP), NS_OK);
    CHECK_EQ(ns_options_set_non_blocking(o, 0), NS_OK);
    CHECK_EQ(ns_options_set_connection_timeout(o, 250000), NS_OK);
    CHECK_EQ(ns_options_set_read_timeout(o, 100000), NS_OK);
    CHECK_EQ(ns_options_set_handshake(o, 0), NS_OK);
    CHECK_EQ(ns_options_set_client_certificate_required(o, 1), NS_OK);
    /* sni* is a client field: a server refuses it rather than ignore it. */
    CHECK_EQ(ns_options_add_sni(o, "a.test"), NS_ERR_INVALID);
    CHECK_STR(ns_last_error(), "sni* is not a field of server-tls-socket-options: a server "
                               "serves certificates by name with ns_options_add_identity");
    CHECK_EQ(ns_options_add_alpn(o, "h2"), NS_OK);
    CHECK_EQ(ns_options_add_alpn(o, "http/1.1"), NS_OK);
    CHECK_EQ(ns_options_get_ai_family(o), AF_INET6);
    CHECK_EQ(ns_options_get_ai_flags(o), AI_ADDRCONFIG);
    CHECK_EQ(ns_options_get_ai_protocol(o), IPPROTO_TCP);
    CHECK_EQ(ns_options_get_non_blocking(o), 0);
    CHECK_EQ(ns_options_get_connection_timeout(o), 250000);
    CHECK_EQ(ns_options_get_read_timeout(o), 100000);
    CHECK_EQ(ns_options_get_handshake(o), 0);
    CHECK_EQ(ns_options_get_client_certificate_required(o), 1);
    CHECK_EQ(ns_options_sni_count(o), 0);
    CHECK_EQ(ns_options_alpn_count(o), 2);
    CHECK(strcmp(ns_options_get_alpn(o, 1), "http/1.1") == 0);
    CHECK(ns_options_get_alpn(o, 2) == NULL);
    CHECK_EQ(ns_options_clear_alpn(o), NS_OK);
    CHECK_EQ(ns_options_alpn_count(o), 0);
    CHECK_EQ(ns_options_set_read_timeout(o, -5), NS_OK);
    CHECK_EQ(ns_options_get_read_timeout(o), -1);
    ns_options_free(o);
}

static void test_wrong_kind_fields_are_invalid(void)
{
    setup();
    ns_options *plain = ns_options_new(NS_SOCKET_OPTIONS);
    ns_options *tls = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_set_handshake(plain, 0), NS_ERR_INVALID);
    CHECK_ERROR_HAS("handshake");
    CHECK_ERROR_HAS("socket-options");
    const char *pem = certgen_cert_pem(leaf);
    CHECK_EQ(ns_options_add_certificate(plain, pem, strlen(pem)), NS_ERR_INVALID);
    CHECK_ERROR_HAS("certificates");
    CHECK_EQ(ns_options_add_alpn(plain, "h2"), NS_ERR_INVALID);
    CHECK_EQ(ns_options_add_sni(plain, "x"), NS_ERR_INVALID);
    CHECK_EQ(ns_options_add_trusted_certificate(plain, pem, strlen(pem)), NS_ERR_INVALID);
    CHECK_EQ(ns_options_set_certificate_verifier(plain, NULL, NULL), NS_ERR_INVALID);
    CHECK_EQ(ns_options_set_client_certificate_required(tls, 1), NS_ERR_INVALID);
    CHECK_ERROR_HAS("client-certificate-required?");
    CHECK_ERROR_HAS("tls-socket-options");
    CHECK_EQ(ns_options_get_client_certificate_required(tls), 0);
    CHECK_EQ(ns_options_certificate_count(plain), 0);
    ns_options_free(plain);
    ns_options_free(tls);
}

static void test_bad_values_are_invalid(void)
{
    ns_options *o = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_set_ai_family(o, 12345), NS_ERR_INVALID);
    CHECK_EQ(ns_options_set_ai_socktype(o, SOCK_RAW), NS_ERR_INVALID);
    CHECK_EQ(ns_options_set_ai_flags(o, 1 << 20), NS_ERR_INVALID);
    CHECK_EQ(ns_options_get_ai_family(o), AF_INET);
    CHECK_EQ(ns_options_add_alpn(o, ""), NS_ERR_INVALID);
    CHECK_ERROR_HAS("empty");
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK_EQ(ns_options_add_alpn(o, longname), NS_ERR_INVALID);
    CHECK_ERROR_HAS("255");
    CHECK_EQ(ns_options_add_alpn(o, NULL), NS_ERR_INVALID);
    CHECK_EQ(ns_options_add_sni(o, ""), NS_ERR_INVALID);
    CHECK_EQ(ns_options_alpn_count(o), 0);
    CHECK(ns_options_new(7) == NULL);
    CHECK_EQ(ns_last_status(), NS_ERR_INVALID);
    ns_options_free(o);
}

static void test_pem_and_der_certificates_and_keys(void)
{
    setup();
    ns_options *o = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    size_t der_len, key_len;
    const unsigned char *der = certgen_cert_der(leaf, &der_len);
    const unsigned char *kder = certgen_key_der(leaf, &key_len);
    CHECK_EQ(ns_options_add_certificate(o, der, der_len), NS_OK);
    CHECK_EQ(ns_options_set_private_key(o, kder, key_len), NS_OK);
    CHECK(ns_options_has_private_key(o));
    size_t got_len;
    const unsigned char *got = ns_options_get_certificate(o, 0, &got_len);
    CHECK(got != NULL && got_len == der_len && memcmp(got, der, der_len) == 0);
    CHECK(ns_options_get_certificate(o, 1, &got_len) == NULL);
    /* PEM key over DER key, and a chain in one PEM blob. */
    const char *kpem = certgen_key_pem(leaf);
    CHECK_EQ(ns_options_set_private_key(o, kpem, strlen(kpem)), NS_OK);
    CHECK_EQ(ns_options_clear_certificates(o), NS_OK);
    char chain[8192];
    snprintf(chain, sizeof chain, "%s%s", certgen_cert_pem(leaf), certgen_cert_pem(ca));
    CHECK_EQ(ns_options_add_certificate(o, chain, strlen(chain)), NS_OK);
    CHECK_EQ(ns_options_certificate_count(o), 2);
    ns_options_free(o);
}

static void test_key_that_does_not_match_is_invalid(void)
{
    setup();
    ns_options *o = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    const char *cert = certgen_cert_pem(leaf), *wrong = certgen_key_pem(other);
    CHECK_EQ(ns_options_add_certificate(o, cert, strlen(cert)), NS_OK);
    CHECK_EQ(ns_options_set_private_key(o, wrong, strlen(wrong)), NS_ERR_INVALID);
    CHECK_ERROR_HAS("does not match");
    CHECK(!ns_options_has_private_key(o));
    /* Key first, then a certificate that does not match it. */
    ns_options *p = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_set_private_key(p, wrong, strlen(wrong)), NS_OK);
    CHECK_EQ(ns_options_add_certificate(p, cert, strlen(cert)), NS_ERR_INVALID);
    CHECK_EQ(ns_options_certificate_count(p), 0);
    ns_options_free(o);
    ns_options_free(p);
}

static void test_garbage_pem_and_der_are_invalid(void)
{
    ns_options *o = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    const char *garbage = "-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n";
    CHECK_EQ(ns_options_add_certificate(o, garbage, strlen(garbage)), NS_ERR_INVALID);
    CHECK_ERROR_HAS("certificates");
    CHECK_EQ(ns_options_add_certificate(o, "\x30\x03\x01\x02\x03", 5), NS_ERR_INVALID);
    CHECK_EQ(ns_options_add_certificate(o, "", 0), NS_ERR_INVALID);
    CHECK_EQ(ns_options_add_certificate(o, NULL, 10), NS_ERR_INVALID);
    CHECK_EQ(ns_options_set_private_key(o, garbage, strlen(garbage)), NS_ERR_INVALID);
    CHECK_EQ(ns_options_set_private_key(o, "junk", 4), NS_ERR_INVALID);
    CHECK_EQ(ns_options_add_trusted_certificate(o, "junk", 4), NS_ERR_INVALID);
    /* A good certificate followed by garbage: rejected whole, nothing added. */
    setup();
    char mixed[8192];
    snprintf(mixed, sizeof mixed, "%s%s", certgen_cert_pem(leaf), garbage);
    CHECK_EQ(ns_options_add_certificate(o, mixed, strlen(mixed)), NS_ERR_INVALID);
    CHECK_EQ(ns_options_certificate_count(o), 0);
    CHECK(!ns_options_has_private_key(o));
    ns_options_free(o);
}

static void test_file_setters(void)
{
    setup();
    char dir[] = "/tmp/ns-options-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK_EQ(certgen_write(leaf, dir, "leaf"), 0);
    CHECK_EQ(certgen_write(ca, dir, "ca"), 0);
    char crt[600], key[600], cacrt[600];
    snprintf(crt, sizeof crt, "%s/leaf.crt", dir);
    snprintf(key, sizeof key, "%s/leaf.key", dir);
    snprintf(cacrt, sizeof cacrt, "%s/ca.crt", dir);
    ns_options *o = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_add_certificate_file(o, crt), NS_OK);
    CHECK_EQ(ns_options_set_private_key_file(o, key), NS_OK);
    CHECK_EQ(ns_options_add_trusted_certificate_file(o, cacrt), NS_OK);
    CHECK_EQ(ns_options_trusted_certificate_count(o), 1);
    CHECK_EQ(ns_options_add_certificate_file(o, "/nonexistent/x.pem"), NS_ERR_INVALID);
    CHECK_ERROR_HAS("/nonexistent/x.pem");
    CHECK_EQ(ns_options_set_private_key_file(o, NULL), NS_ERR_INVALID);
    CHECK_EQ(ns_options_certificate_count(o), 1);
    unlink(crt);
    unlink(key);
    unlink(cacrt);
    snprintf(crt, sizeof crt, "%s/ca.key", dir);
    unlink(crt);
    rmdir(dir);
    ns_options_free(o);
}

static int accept_all(void *ud, int depth, int err, const unsigned char *der, size_t len)
{
    return 1;
}

static int released;
static void count_release(void *ud) { released++; }

static void test_copy_takes_the_fields_the_kind_has(void)
{
    setup();
    ns_options *server = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    const char *cert = certgen_cert_pem(leaf), *key = certgen_key_pem(leaf);
    ns_options_set_read_timeout(server, 4242);
    ns_options_set_non_blocking(server, 0);
    ns_options_add_certificate(server, cert, strlen(cert));
    ns_options_set_private_key(server, key, strlen(key));
    ns_options_add_alpn(server, "h2");
    ns_options_set_client_certificate_required(server, 1);
    ns_options_set_certificate_verifier_owned(server, accept_all, &released, count_release);

    ns_options *plain = ns_options_copy(server, NS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_kind_of(plain), NS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_get_read_timeout(plain), 4242);
    CHECK_EQ(ns_options_get_non_blocking(plain), 0);
    CHECK_EQ(ns_options_certificate_count(plain), 0);

    ns_options *tls = ns_options_copy(server, NS_TLS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_certificate_count(tls), 1);
    CHECK(ns_options_has_private_key(tls));
    CHECK_EQ(ns_options_alpn_count(tls), 1);
    CHECK(ns_options_get_certificate_verifier(tls, NULL) == accept_all);

    ns_options *back = ns_options_copy(plain, NS_SERVER_TLS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_get_read_timeout(back), 4242);
    CHECK_EQ(ns_options_get_client_certificate_required(back), 0);
    CHECK(ns_options_copy(NULL, NS_SOCKET_OPTIONS) == NULL);

    /* The verifier's userdata is released once, when the last user goes. */
    ns_options_free(server);
    CHECK_EQ(released, 0);
    ns_options_free(tls);
    CHECK_EQ(released, 1);
    ns_options_free(plain);
    ns_options_free(back);
}

static void test_null_options_never_crash(void)
{
    CHECK_EQ(ns_options_set_ai_family(NULL, AF_INET), NS_ERR_INVALID);
    CHECK_EQ(ns_options_set_read_timeout(NULL, 1), NS_ERR_INVALID);
    CHECK_EQ(ns_options_add_certificate(NULL, "x", 1), NS_ERR_INVALID);
    CHECK_EQ(ns_options_add_certificate_file(NULL, "/x"), NS_ERR_INVALID);
    CHECK_EQ(ns_options_add_alpn(NULL, "h2"), NS_ERR_INVALID);
    CHECK_EQ(ns_options_clear_sni(NULL), NS_ERR_INVALID);
    CHECK_EQ(ns_options_get_read_timeout(NULL), -1);
    CHECK_EQ(ns_options_get_non_blocking(NULL), 1);
    CHECK_EQ(ns_options_certificate_count(NULL), 0);
    CHECK(ns_options_get_certificate(NULL, 0, NULL) == NULL);
    CHECK(ns_options_get_alpn(NULL, 0) == NULL);
    CHECK_EQ(ns_options_kind_of(NULL), 0);
    ns_options_free(NULL);
}

static const ns_test tests[] = {
    TEST(test_defaults_match_the_seed),
    TEST(test_predicates),
    TEST(test_setters_and_getters_round_trip),
    TEST(test_wrong_kind_fields_are_invalid),
    TEST(test_bad_values_are_invalid),
    TEST(test_pem_and_der_certificates_and_keys),
    TEST(test_key_that_does_not_match_is_invalid),
    TEST(test_garbage_pem_and_der_are_invalid),
    TEST(test_file_setters),
    TEST(test_copy_takes_the_fields_the_kind_has),
    TEST(test_null_options_never_crash),
};
NS_TEST_MAIN(tests)
