/* Options: what TLS proves and trusts, with their setters and getters: the
 * private key (plain, with a password, PKCS#12), certificates, trust
 * anchors and a server's identities per name. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "options_field.h"

/* ---- private key and certificates ---- */

/* Sets the private key from data, with the password in pw. */
static int set_key(ns_options *o, const void *data, size_t len, const ns_password *pw)
{
    int rc = ns_options_settable(o, KINDS_TLS, "private-key");
    EVP_PKEY *key = NULL;
    if (rc != NS_OK || (rc = ns_key_parse(data, len, pw, "private-key", &key)) != NS_OK)
        return rc;
    ns_options_lock(o);
    int match = o->certificates.count > 0 ? ns_key_matches(key, o->certificates.items[0].x509) : 1;
    if (match != 1) {
        EVP_PKEY_free(key);
        if (match == 0)
            match = ns_fail(NS_ERR_INVALID, 0,
                            "private-key: the key does not match the first certificate");
        return ns_options_end(o, match, 1);
    }
    EVP_PKEY_free(o->private_key);
    o->private_key = key;
    return ns_options_end(o, NS_OK, 1);
}

/* The password given, or else the options' callback. */
static ns_password password_of(const ns_options *o, const void *password, size_t len)
{
    if (password != NULL)
        return (ns_password){.data = password, .len = len};
    return (ns_password){.fn = o ? o->password_fn : NULL,
                         .userdata = o ? o->password_userdata : NULL};
}

int ns_options_set_private_key(ns_options *o, const void *data, size_t len)
{
    ns_password pw = password_of(o, NULL, 0);
    return set_key(o, data, len, &pw);
}

int ns_options_set_private_key_with_password(ns_options *o, const void *data, size_t len,
                                             const void *password, size_t password_len)
{
    ns_password pw = password_of(o, password, password_len);
    return set_key(o, data, len, &pw);
}

/* Key and certificates from a PKCS#12 bundle, replacing both at once. */
static int set_pkcs12(ns_options *o, const void *data, size_t len, const ns_password *pw)
{
    int rc = ns_options_settable(o, KINDS_TLS, "pkcs12");
    EVP_PKEY *key = NULL;
    ns_certlist chain = {0};
    if (rc != NS_OK || (rc = ns_pkcs12_parse(data, len, pw, &key, &chain)) != NS_OK)
        return rc;
    ns_options_lock(o);
    EVP_PKEY_free(o->private_key);
    o->private_key = key;
    ns_certlist_clear(&o->certificates);
    o->certificates = chain;
    return ns_options_end(o, NS_OK, 1);
}

int ns_options_set_pkcs12(ns_options *o, const void *data, size_t len, const void *password,
                          size_t password_len)
{
    ns_password pw = password_of(o, password, password_len);
    return set_pkcs12(o, data, len, &pw);
}

/* Reads path (wiped after use: it may hold a key) and hands it to set. */
static int load_file(ns_options *o, const char *path, const char *field, unsigned kinds,
                     const ns_password *pw,
                     int (*set)(ns_options *, const void *, size_t, const ns_password *))
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = ns_options_settable(o, kinds, field);
    if (rc != NS_OK || (rc = ns_read_file(path, field, &data, &len)) != NS_OK)
        return rc;
    rc = set(o, data, len, pw);
    OPENSSL_cleanse(data, len);
    free(data);
    return rc;
}

int ns_options_set_pkcs12_file(ns_options *o, const char *path, const void *password,
                               size_t password_len)
{
    ns_password pw = password_of(o, password, password_len);
    return load_file(o, path, "pkcs12", KINDS_TLS, &pw, set_pkcs12);
}

int ns_options_set_private_key_file_with_password(ns_options *o, const char *path,
                                                  const void *password, size_t password_len)
{
    ns_password pw = password_of(o, password, password_len);
    return load_file(o, path, "private-key", KINDS_TLS, &pw, set_key);
}

int ns_options_set_password_callback(ns_options *o, ns_password_callback fn, void *userdata)
{
    int rc = ns_options_begin(o, KINDS_TLS, "password-callback");
    if (rc != NS_OK)
        return rc;
    o->password_fn = fn;
    o->password_userdata = fn ? userdata : NULL;
    return ns_options_end(o, NS_OK, 0); /* used while a key is parsed, not compiled */
}

ns_password_callback ns_options_get_password_callback(const ns_options *o, void **userdata)
{
    if (userdata)
        *userdata = o ? o->password_userdata : NULL;
    return o ? o->password_fn : NULL;
}

/* Certificate lists take no password: adapts their setters to load_file. */
static int set_certs(ns_options *o, const void *data, size_t len, const ns_password *pw)
{
    return ns_options_add_certificate(o, data, len);
}
static int set_trusted(ns_options *o, const void *data, size_t len, const ns_password *pw)
{
    return ns_options_add_trusted_certificate(o, data, len);
}

int ns_options_set_private_key_file(ns_options *o, const char *path)
{
    ns_password pw = password_of(o, NULL, 0);
    return load_file(o, path, "private-key", KINDS_TLS, &pw, set_key);
}

int ns_options_has_private_key(const ns_options *o) { return o && o->private_key != NULL; }

int ns_options_add_certificate(ns_options *o, const void *data, size_t len)
{
    ns_certlist parsed = {0};
    int rc = ns_options_settable(o, KINDS_TLS, "certificates");
    if (rc != NS_OK || (rc = ns_certs_parse(data, len, "certificates", &parsed)) != NS_OK)
        return rc;
    ns_options_lock(o);
    int match = o->certificates.count == 0 && o->private_key
                    ? ns_key_matches(o->private_key, parsed.items[0].x509)
                    : 1;
    if (match < 0)
        rc = match;
    else if (match == 0)
        rc = ns_fail(NS_ERR_INVALID, 0,
                     "certificates: the certificate does not match the private key");
    if (rc == NS_OK)
        rc = ns_certlist_append(&o->certificates, &parsed);
    ns_certlist_clear(&parsed);
    return ns_options_end(o, rc, 1);
}

int ns_options_add_certificate_file(ns_options *o, const char *path)
{
    return load_file(o, path, "certificates", KINDS_TLS, NULL, set_certs);
}

int ns_options_clear_certificates(ns_options *o)
{
    int rc = ns_options_begin(o, KINDS_TLS, "certificates");
    if (rc != NS_OK)
        return rc;
    ns_certlist_clear(&o->certificates);
    return ns_options_end(o, NS_OK, 1);
}

static const unsigned char *certlist_der(const ns_options *o, const ns_certlist *l, size_t i,
                                         size_t *der_len)
{
    if (o == NULL || i >= l->count) {
        if (der_len)
            *der_len = 0;
        return NULL;
    }
    if (der_len)
        *der_len = l->items[i].der_len;
    return l->items[i].der;
}

size_t ns_options_certificate_count(const ns_options *o)
{
    return o ? o->certificates.count : 0;
}
const unsigned char *ns_options_get_certificate(const ns_options *o, size_t i, size_t *der_len)
{
    return certlist_der(o, o ? &o->certificates : NULL, i, der_len);
}

int ns_options_add_trusted_certificate(ns_options *o, const void *data, size_t len)
{
    ns_certlist parsed = {0};
    int rc = ns_options_settable(o, KINDS_TLS, "trusted-certificates");
    if (rc != NS_OK || (rc = ns_certs_parse(data, len, "trusted-certificates", &parsed)) != NS_OK)
        return rc;
    ns_options_lock(o);
    rc = ns_certlist_append(&o->trusted, &parsed);
    ns_certlist_clear(&parsed);
    return ns_options_end(o, rc, 1);
}

int ns_options_add_trusted_certificate_file(ns_options *o, const char *path)
{
    return load_file(o, path, "trusted-certificates", KINDS_TLS, NULL, set_trusted);
}

int ns_options_clear_trusted_certificates(ns_options *o)
{
    int rc = ns_options_begin(o, KINDS_TLS, "trusted-certificates");
    if (rc != NS_OK)
        return rc;
    ns_certlist_clear(&o->trusted);
    return ns_options_end(o, NS_OK, 1);
}

size_t ns_options_trusted_certificate_count(const ns_options *o)
{
    return o ? o->trusted.count : 0;
}
const unsigned char *ns_options_get_trusted_certificate(const ns_options *o, size_t i,
                                                        size_t *der_len)
{
    return certlist_der(o, o ? &o->trusted : NULL, i, der_len);
}

/* ---- server identities ---- */

int ns_options_add_identity(ns_options *o, const void *chain, size_t chain_len, const void *key,
                            size_t key_len)
{
    int rc = ns_options_settable(o, KINDS_SERVER, "identities");
    if (rc != NS_OK)
        return rc;
    ns_identity id;
    ns_password pw = password_of(o, NULL, 0);
    if ((rc = ns_identity_parse(&id, chain, chain_len, key, key_len, &pw)) != NS_OK)
        return rc;
    ns_options_lock(o);
    ns_identity *items = realloc(o->identities, (o->identity_count + 1) * sizeof *items);
    if (items == NULL) {
        ns_identity_clear(&id);
        return ns_options_end(o, ns_fail(NS_ERR_NOMEM, ENOMEM, "identities: out of memory"), 1);
    }
    o->identities = items;
    items[o->identity_count++] = id;
    return ns_options_end(o, NS_OK, 1);
}

int ns_options_add_identity_name(ns_options *o, size_t i, const char *name)
{
    int rc = ns_options_settable(o, KINDS_SERVER, "identities");
    if (rc != NS_OK)
        return rc;
    if (i >= o->identity_count)
        return ns_fail(NS_ERR_INVALID, 0, "identities: no identity %zu (there are %zu)", i,
                       o->identity_count);
    if (name == NULL || name[0] == '\0' || strlen(name) > 255)
        return ns_fail(NS_ERR_INVALID, 0, "identities: a name is 1..255 bytes");
    ns_options_lock(o);
    ns_identity *id = &o->identities[i];
    if (!id->explicit_names) { /* the first name given replaces the certificate's */
        ns_strlist_clear(&id->names);
        id->explicit_names = 1;
    }
    return ns_options_end(o, ns_strlist_add(&id->names, name), 1);
}

int ns_options_clear_identities(ns_options *o)
{
    int rc = ns_options_begin(o, KINDS_SERVER, "identities");
    if (rc != NS_OK)
        return rc;
    for (size_t i = 0; i < o->identity_count; i++)
        ns_identity_clear(&o->identities[i]);
    free(o->identities);
    o->identities = NULL;
    o->identity_count = 0;
    return ns_options_end(o, NS_OK, 1);
}

size_t ns_options_identity_count(const ns_options *o) { return o ? o->identity_count : 0; }

size_t ns_options_identity_name_count(const ns_options *o, size_t i)
{
    return o && i < o->identity_count ? o->identities[i].names.count : 0;
}

const char *ns_options_get_identity_name(const ns_options *o, size_t i, size_t j)
{
    return o && i < o->identity_count ? ns_strlist_at(&o->identities[i].names, j) : NULL;
}

const unsigned char *ns_options_get_identity_certificate(const ns_options *o, size_t i, size_t j,
                                                         size_t *der_len)
{
    const ns_certlist *l = o && i < o->identity_count ? &o->identities[i].chain : NULL;
    return certlist_der(l ? o : NULL, l, j, der_len);
}

ns_identity_set *ns_options_identity_set(const ns_options *o)
{
    ns_options_lock(o);
    ns_identity_set *s = ns_identity_set_build(o);
    ns_options_unlock(o);
    return s;
}
