#include "certgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/obj.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "netsocket.h"

struct test_cert {
    X509 *x509;
    EVP_PKEY *key;
    char *cert_pem, *key_pem;
    unsigned char *cert_der, *key_der;
    size_t cert_der_len, key_der_len;
};

static char *bio_string(BIO *b)
{
    const uint8_t *data;
    size_t len;
    BIO_mem_contents(b, &data, &len);
    char *s = malloc(len + 1);
    memcpy(s, data, len);
    s[len] = '\0';
    BIO_free(b);
    return s;
}

static EVP_PKEY *new_key(void)
{
    EC_KEY *ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
    EVP_PKEY *k = EVP_PKEY_new();
    if (!ec || !k || !EC_KEY_generate_key(ec) || !EVP_PKEY_assign_EC_KEY(k, ec))
        abort();
    return k;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
    if (!e || !X509_add_ext(x, e, -1))
        abort();
    X509_EXTENSION_free(e);
}

static test_cert *finish(X509 *x, EVP_PKEY *k)
{
    test_cert *c = calloc(1, sizeof *c);
    c->x509 = x;
    c->key = k;
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    c->cert_pem = bio_string(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    c->key_pem = bio_string(b);
    c->cert_der_len = (size_t)i2d_X509(x, &c->cert_der);
    c->key_der_len = (size_t)i2d_PrivateKey(k, &c->key_der);
    return c;
}

static test_cert *make(const test_cert *ca, const char *cn, const char *san, int is_ca,
                       int not_before_days, int not_after_days)
{
    static long serial = 1;
    EVP_PKEY *k = new_key();
    X509 *x = X509_new();
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED));
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, ca ? X509_get_subject_name(ca->x509) : name);
    X509_gmtime_adj(X509_getm_notBefore(x), (long)not_before_days * 86400);
    X509_gmtime_adj(X509_getm_notAfter(x), (long)not_after_days * 86400);
    X509_set_pubkey(x, k);
    X509 *issuer = ca ? ca->x509 : x;
    if (is_ca) {
        add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(x, issuer, NID_ext_key_usage, "serverAuth,clientAuth");
        if (san)
            add_ext(x, issuer, NID_subject_alt_name, san);
    }
    if (!X509_sign(x, ca ? ca->key : k, EVP_sha256()))
        abort();
    return finish(x, k);
}

test_cert *certgen_ca(const char *cn) { return make(NULL, cn, NULL, 1, -1, 3650); }

test_cert *certgen_intermediate(const test_cert *ca, const char *cn)
{
    return make(ca, cn, NULL, 1, -1, 3650);
}

test_cert *certgen_leaf(const test_cert *ca, const char *cn, const char *san, int not_before_days,
                        int not_after_days)
{
    return make(ca, cn, san, 0, not_before_days, not_after_days);
}

const char *certgen_cert_pem(const test_cert *c) { return c->cert_pem; }
const char *certgen_key_pem(const test_cert *c) { return c->key_pem; }

const unsigned char *certgen_cert_der(const test_cert *c, size_t *len)
{
    *len = c->cert_der_len;
    return c->cert_der;
}

const unsigned char *certgen_key_der(const test_cert *c, size_t *len)
{
    *len = c->key_der_len;
    return c->key_der;
}

int certgen_is(const test_cert *c, const unsigned char *der, size_t len)
{
    return der != NULL && len == c->cert_der_len && memcmp(der, c->cert_der, len) == 0;
}

static int write_text(const char *dir, const char *name, const char *ext, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

int certgen_write(const test_cert *c, const char *dir, const char *name)
{
    return write_text(dir, name, "crt", c->cert_pem) | write_text(dir, name, "key", c->key_pem);
}

void certgen_free(test_cert *c)
{
    if (!c)
        return;
    X509_free(c->x509);
    EVP_PKEY_free(c->key);
    free(c->cert_pem);
    free(c->key_pem);
    OPENSSL_free(c->cert_der);
    OPENSSL_free(c->key_der);
    free(c);
}

int tls_fixture_init(tls_fixture *f)
{
    f->ca = certgen_ca("fixture CA");
    f->leaf = certgen_leaf(f->ca, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 30);
    f->server = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    f->client = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    if (!f->ca || !f->leaf || !f->server || !f->client)
        return 0;
    const char *cert = certgen_cert_pem(f->leaf), *key = certgen_key_pem(f->leaf);
    const char *ca = certgen_cert_pem(f->ca);
    return ns_options_add_certificate(f->server, cert, strlen(cert)) == NS_OK &&
           ns_options_set_private_key(f->server, key, strlen(key)) == NS_OK &&
           ns_options_add_trusted_certificate(f->client, ca, strlen(ca)) == NS_OK;
}

void tls_fixture_free(tls_fixture *f)
{
    ns_options_free(f->server);
    ns_options_free(f->client);
    certgen_free(f->ca);
    certgen_free(f->leaf);
}
