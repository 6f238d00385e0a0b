/* Private keys: plain PEM or DER, encrypted PEM (PKCS#8 or the legacy
 * "Proc-Type: 4,ENCRYPTED" form), encrypted DER PKCS#8, and PKCS#12 bundles.
 * Passwords are copied into one stack buffer that is wiped before return;
 * BoringSSL wipes the decrypted key material it frees. */
#include <errno.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bytestring.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs8.h>

#include "internal.h"

/* PEM's own limit (PEM_BUFSIZE), applied to every form alike. */
#define NS_PASSWORD_MAX (PEM_BUFSIZE - 1)

typedef struct {
    const ns_password *pw;
    const char *what;
    int asked;  /* BoringSSL wanted a password: the key is encrypted */
    int status; /* NS_OK, or why no password could be given (recorded) */
} pem_state;

/* The password into buf (cap bytes): its length, or a negative status. */
static int password_get(const ns_password *pw, const char *what, char *buf, size_t cap)
{
    if (pw == NULL || (pw->data == NULL && pw->fn == NULL))
        return ns_fail(NS_ERR_INVALID, 0,
                       "%s: the key is encrypted and no password was given", what);
    long n;
    if (pw->data != NULL) {
        n = (long)pw->len;
        if (pw->len <= cap)
            memcpy(buf, pw->data, pw->len);
    } else {
        n = pw->fn(pw->userdata, buf, cap);
        if (n < 0)
            return ns_fail(NS_ERR_INVALID, 0, "%s: the password callback gave no password",
                           what);
    }
    if ((size_t)n > cap)
        return ns_fail(NS_ERR_INVALID, 0, "%s: password longer than %d bytes", what,
                       NS_PASSWORD_MAX);
    if (n == 0)
        return ns_fail(NS_ERR_INVALID, 0, "%s: empty password", what);
    return (int)n;
}

static int pem_password(char *buf, int size, int rwflag, void *arg)
{
    pem_state *st = arg;
    st->asked = 1;
    int n = password_get(st->pw, st->what, buf, size > 0 ? (size_t)size - 1 : 0);
    if (n < 0) {
        st->status = n;
        return 0;
    }
    return n;
}

/* BoringSSL's reason is left out: a wrong key passes CBC's padding check
 * now and then, and the reason then names whatever failed next. */
static int wrong_password(const char *what)
{
    ERR_clear_error();
    return ns_fail(NS_ERR_INVALID, 0, "%s: wrong password (or a damaged encrypted key)", what);
}

static int parse_pem_key(const void *data, size_t len, const ns_password *pw, const char *what,
                         EVP_PKEY **out)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    if (bio == NULL)
        return ns_fail(NS_ERR_NOMEM, ENOMEM, "%s: out of memory", what);
    pem_state st = {.pw = pw, .what = what};
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, pem_password, &st);
    BIO_free(bio);
    if (key != NULL) {
        *out = key;
        return NS_OK;
    }
    if (st.status != NS_OK) {
        ERR_clear_error();
        return st.status;
    }
    if (st.asked)
        return wrong_password(what);
    return ns_fail_ssl(NS_ERR_INVALID, "%s: not a valid PEM private key", what);
}

/* Encrypted DER PKCS#8 (EncryptedPrivateKeyInfo), tried after the plain forms. */
static int parse_encrypted_der(const void *data, size_t len, const ns_password *pw,
                               const char *what, EVP_PKEY **out)
{
    char pass[NS_PASSWORD_MAX + 1];
    int n = password_get(pw, what, pass, NS_PASSWORD_MAX);
    if (n < 0)
        return n;
    CBS cbs;
    CBS_init(&cbs, data, len);
    EVP_PKEY *key = PKCS8_parse_encrypted_private_key(&cbs, pass, (size_t)n);
    OPENSSL_cleanse(pass, sizeof pass);
    if (key == NULL || CBS_len(&cbs) != 0) {
        EVP_PKEY_free(key);
        uint32_t e = ERR_peek_last_error();
        if (ERR_GET_LIB(e) == ERR_LIB_PKCS8 && ERR_GET_REASON(e) == PKCS8_R_DECODE_ERROR)
            return ns_fail_ssl(NS_ERR_INVALID, "%s: neither PEM nor a DER private key", what);
        return wrong_password(what);
    }
    *out = key;
    return NS_OK;
}

/* The outer SEQUENCE of an EncryptedPrivateKeyInfo starts with another
 * SEQUENCE (the algorithm); a PrivateKeyInfo or RSA/EC key starts with an
 * INTEGER (the version). */
static int looks_encrypted_der(const void *data, size_t len)
{
    CBS cbs, seq;
    CBS_init(&cbs, data, len);
    return CBS_get_asn1(&cbs, &seq, CBS_ASN1_SEQUENCE) && CBS_peek_asn1_tag(&seq, CBS_ASN1_SEQUENCE);
}

int ns_key_parse(const void *data, size_t len, const ns_password *pw, const char *what,
                 EVP_PKEY **out)
{
    if (data == NULL || len == 0)
        return ns_fail(NS_ERR_INVALID, 0, "%s: empty key data", what);
    if (len > NS_FILE_MAX)
        return ns_fail(NS_ERR_INVALID, 0, "%s: data larger than 16 MiB", what);
    int rc;
    if (ns_looks_like_pem(data, len)) {
        rc = parse_pem_key(data, len, pw, what, out);
    } else if (looks_encrypted_der(data, len)) {
        rc = parse_encrypted_der(data, len, pw, what, out);
    } else {
        const uint8_t *p = data;
        EVP_PKEY *key = d2i_AutoPrivateKey(NULL, &p, (long)len);
        if (key == NULL || p != (const uint8_t *)data + len) {
            EVP_PKEY_free(key);
            return ns_fail_ssl(NS_ERR_INVALID, "%s: neither PEM nor a DER private key", what);
        }
        *out = key;
        rc = NS_OK;
    }
    if (rc == NS_OK)
        ERR_clear_error();
    return rc;
}

/* Moves the certificate that matches key to the front of l. */
static int leaf_first(ns_certlist *l, EVP_PKEY *key, const char *what)
{
    for (size_t i = 0; i < l->count; i++) {
        int m = ns_key_matches(key, l->items[i].x509);
        if (m < 0)
            return m;
        if (m == 1) {
            ns_cert leaf = l->items[i];
            memmove(l->items + 1, l->items, i * sizeof *l->items);
            l->items[0] = leaf;
            return NS_OK;
        }
    }
    return ns_fail(NS_ERR_INVALID, 0, "%s: no certificate in the bundle matches its private key",
                   what);
}

int ns_pkcs12_parse(const void *data, size_t len, const ns_password *pw, EVP_PKEY **key_out,
                    ns_certlist *chain)
{
    const char *what = "pkcs12";
    if (data == NULL || len == 0)
        return ns_fail(NS_ERR_INVALID, 0, "%s: empty bundle data", what);
    if (len > NS_FILE_MAX)
        return ns_fail(NS_ERR_INVALID, 0, "%s: data larger than 16 MiB", what);
    char pass[NS_PASSWORD_MAX + 1];
    int n = 0;
    /* A bundle may have an empty password; the callback is asked if set. */
    if (pw != NULL && (pw->data != NULL || pw->fn != NULL)) {
        if (pw->data != NULL && pw->len == 0)
            n = 0;
        else if ((n = password_get(pw, what, pass, NS_PASSWORD_MAX)) < 0)
            return n;
    }
    pass[n] = '\0';
    STACK_OF(X509) *certs = sk_X509_new_null();
    EVP_PKEY *key = NULL;
    int rc = NS_OK;
    if (memchr(pass, '\0', (size_t)n) != NULL) {
        rc = ns_fail(NS_ERR_INVALID, 0, "%s: a PKCS#12 password cannot contain a NUL byte", what);
    } else if (certs == NULL) {
        rc = ns_fail(NS_ERR_NOMEM, ENOMEM, "%s: out of memory", what);
    } else {
        CBS cbs;
        CBS_init(&cbs, data, len);
        if (!PKCS12_get_key_and_certs(&key, certs, &cbs, pass)) {
            uint32_t e = ERR_peek_last_error();
            if (ERR_GET_LIB(e) == ERR_LIB_PKCS8 && ERR_GET_REASON(e) == PKCS8_R_INCORRECT_PASSWORD)
                rc = ns_fail_ssl(NS_ERR_INVALID, "%s: wrong password", what);
            else
                rc = ns_fail_ssl(NS_ERR_INVALID, "%s: not a valid PKCS#12 bundle", what);
        }
    }
    OPENSSL_cleanse(pass, sizeof pass);
    if (rc == NS_OK && key == NULL)
        rc = ns_fail(NS_ERR_INVALID, 0, "%s: the bundle holds no private key", what);
    if (rc == NS_OK && sk_X509_num(certs) == 0)
        rc = ns_fail(NS_ERR_INVALID, 0, "%s: the bundle holds no certificate", what);
    while (rc == NS_OK && sk_X509_num(certs) > 0)
        rc = ns_certlist_push(chain, sk_X509_shift(certs));
    if (rc == NS_OK)
        rc = leaf_first(chain, key, what);
    sk_X509_pop_free(certs, X509_free);
    if (rc != NS_OK) {
        EVP_PKEY_free(key);
        ns_certlist_clear(chain);
        return rc;
    }
    ERR_clear_error();
    *key_out = key;
    return NS_OK;
}

int ns_key_matches(EVP_PKEY *key, X509 *cert)
{
    EVP_PKEY *pub = X509_get_pubkey(cert);
    if (pub == NULL) /* out of memory, or a key type BoringSSL cannot read */
        return ns_fail_ssl(NS_ERR_INVALID, "cannot read the certificate's public key");
    int same = EVP_PKEY_cmp(pub, key) == 1;
    EVP_PKEY_free(pub);
    ERR_clear_error();
    return same;
}
