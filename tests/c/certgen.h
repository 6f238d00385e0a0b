/* Test certificates made at run time (no committed keys, nothing expires):
 * ECDSA P-256 keys, a CA, leaves signed by it, self-signed and expired ones. */
#ifndef NS_CERTGEN_H
#define NS_CERTGEN_H

#include <stddef.h>

#include "netsocket.h"

typedef struct test_cert test_cert;

/* A CA named cn. */
test_cert *certgen_ca(const char *cn);
/* An intermediate CA named cn, signed by ca. */
test_cert *certgen_intermediate(const test_cert *ca, const char *cn);
/* A leaf for cn with subjectAltName `san` (e.g. "DNS:localhost,IP:127.0.0.1"),
 * signed by ca (NULL: self-signed), valid from now+not_before_days to
 * now+not_after_days. */
test_cert *certgen_leaf(const test_cert *ca, const char *cn, const char *san, int not_before_days,
                        int not_after_days);
const char *certgen_cert_pem(const test_cert *c);
const char *certgen_key_pem(const test_cert *c);
/* DER of the certificate (static per cert). */
const unsigned char *certgen_cert_der(const test_cert *c, size_t *len);
const unsigned char *certgen_key_der(const test_cert *c, size_t *len);
/* 1 if der/len is c's certificate. */
int certgen_is(const test_cert *c, const unsigned char *der, size_t len);
/* Writes cert and key PEM files into dir as <name>.crt/<name>.key. */
int certgen_write(const test_cert *c, const char *dir, const char *name);
void certgen_free(test_cert *c);

/* A CA, a leaf for localhost and 127.0.0.1 signed by it, and options for
 * each side: `server` (server TLS kind, the leaf and its key) and `client`
 * (TLS kind, trusting the CA), both with defaults otherwise. */
typedef struct {
    test_cert *ca, *leaf;
    ns_options *server, *client;
} tls_fixture;
int tls_fixture_init(tls_fixture *f);
void tls_fixture_free(tls_fixture *f);

#endif
