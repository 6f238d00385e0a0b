/* Certificates from PEM or DER, in memory or in files (keys: keys.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/mem.h>
#include <openssl/pem.h>

#include "internal.h"


int ns_looks_like_pem(const void *data, size_t len)
{
    return memmem(data, len, "-----BEGIN", 10) != NULL;
}

/* Certificates carry no pass phrase: never prompt on a terminal. */
static int no_password(char *buf, int size, int rwflag, void *userdata)
{
    return 0;
}

static int cert_init(ns_cert *c, X509 *x)
{
    uint8_t *der = NULL;
    int n = i2d_X509(x, &der);
    if (n <= 0)
        return ns_fail_ssl(NS_ERR_NOMEM, "cannot encode a certificate");
    c->x509 = x;
    c->der = der;
    c->der_len = (size_t)n;
    return NS_OK;
}

int ns_certlist_push(ns_certlist *l, X509 *x)
{
    ns_cert *items = realloc(l->items, (l->count + 1) * sizeof *items);
    if (items == NULL) {
        X509_free(x);
        return ns_fail(NS_ERR_NOMEM, ENOMEM, "out of memory storing a certificate");
    }
    l->items = items;
    int rc = cert_init(&items[l->count], x);
    if (rc != NS_OK) {
        X509_free(x);
        return rc;
    }
    l->count++;
    return NS_OK;
}

static int parse_pem_certs(const void *data, size_t len, const char *what, ns_certlist *out)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    if (bio == NULL)
        return ns_fail(NS_ERR_NOMEM, ENOMEM, "%s: out of memory", what);
    int rc = NS_OK;
    for (;;) {
        X509 *x = PEM_read_bio_X509(bio, NULL, no_password, NULL);
        if (x == NULL) {
            uint32_t e = ERR_peek_last_error();
            /* "no start line" after at least one certificate = end of input. */
            if (out->count > 0 && ERR_GET_LIB(e) == ERR_LIB_PEM &&
                ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
                ERR_clear_error();
                break;
            }
            rc = ns_fail_ssl(NS_ERR_INVALID, "%s: not a valid PEM certificate", what);
            break;
        }
        if ((rc = ns_certlist_push(out, x)) != NS_OK)
            break;
    }
    BIO_free(bio);
    if (rc != NS_OK)
        ns_certlist_clear(out);
    return rc;
}

int ns_certs_parse(const void *data, size_t len, const char *what, ns_certlist *out)
{
    if (data == NULL || len == 0)
        return ns_fail(NS_ERR_INVALID, 0, "%s: empty certificate data", what);
    if (len > NS_FILE_MAX)
        return ns_fail(NS_ERR_INVALID, 0, "%s: data larger than 16 MiB", what);
    if (ns_looks_like_pem(data, len))
        return parse_pem_certs(data, len, what, out);
    const uint8_t *p = data;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL || p != (const uint8_t *)data + len) {
        X509_free(x);
        return ns_fail_ssl(NS_ERR_INVALID, "%s: neither PEM nor a DER certificate", what);
    }
    int rc = ns_certlist_push(out, x);
    if (rc != NS_OK)
        ns_certlist_clear(out); /* the grown array, empty or not */
    return rc;
}

/* Wipes and frees a buffer that may hold key bytes. */
static void wipe_free(uint8_t *buf, size_t len)
{
    if (buf)
        OPENSSL_cleanse(buf, len);
    free(buf);
}

/*
 * Opens without waiting (a FIFO would wait for a writer), then refuses
 * anything but a regular file: a FIFO, a device or a directory given as a
 * certificate or key would block or never end.  The contents go into one
 * block of the file's size, never grown: a grown block would leave an
 * unwiped copy of key bytes in the freed one.
 */
int ns_read_file(const char *path, const char *what, uint8_t **out, size_t *out_len)
{
    if (path == NULL)
        return ns_fail(NS_ERR_INVALID, 0, "%s: NULL file name", what);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return ns_fail(errno == ENOMEM ? NS_ERR_NOMEM : NS_ERR_INVALID, errno,
                       "%s: cannot open %s: %s", what, path, strerror(errno));
    struct stat st;
    int rc = NS_OK;
    if (fstat(fd, &st) != 0)
        rc = ns_fail(NS_ERR_INVALID, errno, "%s: cannot read %s: %s", what, path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = ns_fail(NS_ERR_INVALID, 0, "%s: %s is not a regular file", what, path);
    else if (st.st_size > NS_FILE_MAX)
        rc = ns_fail(NS_ERR_INVALID, 0, "%s: %s is larger than 16 MiB", what, path);
    /* One byte more than the size, to notice a file that grew meanwhile. */
    size_t cap = rc == NS_OK ? (size_t)st.st_size + 1 : 0, len = 0;
    uint8_t *buf = rc == NS_OK ? malloc(cap) : NULL;
    if (rc == NS_OK && buf == NULL)
        rc = ns_fail(NS_ERR_NOMEM, ENOMEM, "%s: out of memory reading %s", what, path);
    while (rc == NS_OK) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = ns_fail(NS_ERR_INVALID, errno, "%s: cannot read %s: %s", what, path,
                         strerror(errno));
        else if (n == 0)
            break;
        else if ((len += (size_t)n) == cap)
            rc = ns_fail(NS_ERR_INVALID, 0, "%s: %s changed while it was read", what, path);
    }
    close(fd);
    if (rc != NS_OK) {
        wipe_free(buf, cap);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return NS_OK;
}

int ns_certlist_append(ns_certlist *l, ns_certlist *more)
{
    if (more->count == 0)
        return NS_OK;
    ns_cert *items = realloc(l->items, (l->count + more->count) * sizeof *items);
    if (items == NULL)
        return ns_fail(NS_ERR_NOMEM, ENOMEM, "out of memory storing certificates");
    memcpy(items + l->count, more->items, more->count * sizeof *items);
    l->items = items;
    l->count += more->count;
    free(more->items);
    more->items = NULL;
    more->count = 0;
    return NS_OK;
}

int ns_certlist_copy(ns_certlist *dst, const ns_certlist *src)
{
    ns_certlist tmp = {0};
    for (size_t i = 0; i < src->count; i++) {
        X509_up_ref(src->items[i].x509);
        if (ns_certlist_push(&tmp, src->items[i].x509) != NS_OK) {
            ns_certlist_clear(&tmp);
            return NS_ERR_NOMEM;
        }
    }
    ns_certlist_clear(dst);
    *dst = tmp;
    return NS_OK;
}

void ns_certlist_clear(ns_certlist *l)
{
    for (size_t i = 0; i < l->count; i++) {
        X509_free(l->items[i].x509);
        OPENSSL_free(l->items[i].der);
    }
    free(l->items);
    l->items = NULL;
    l->count = 0;
}
