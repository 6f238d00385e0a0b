/* A BoringSSL BIO over a socket descriptor that never raises SIGPIPE
 * (send with MSG_NOSIGNAL) and retries EINTR.  BoringSSL's own socket BIO
 * uses write(), which raises SIGPIPE on a reset connection. */
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>

#include <openssl/bio.h>

#include "internal.h"

static BIO_METHOD *method;
/* Made on first use under a lock (not pthread_once) so that a failed
 * allocation is retried next time instead of disabling TLS for good. */
static pthread_mutex_t method_lock = PTHREAD_MUTEX_INITIALIZER;

static int fd_of(BIO *b) { return (int)(intptr_t)BIO_get_data(b); }

static int bio_write(BIO *b, const char *buf, int len)
{
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t n = send(fd_of(b), buf, (size_t)len, MSG_NOSIGNAL);
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_write(b);
        return -1;
    }
}

static int bio_read(BIO *b, char *buf, int len)
{
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t n = recv(fd_of(b), buf, (size_t)len, 0);
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_read(b);
        return -1;
    }
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void make_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_TYPE_SOURCE_SINK | BIO_get_new_index(), "netsocket fd");
    if (m && BIO_meth_set_write(m, bio_write) && BIO_meth_set_read(m, bio_read) &&
        BIO_meth_set_ctrl(m, bio_ctrl) && BIO_meth_set_create(m, bio_create)) {
        method = m;
        return;
    }
    BIO_meth_free(m);
}

BIO *ns_bio_new_fd(int fd)
{
    pthread_mutex_lock(&method_lock);
    if (method == NULL)
        make_method();
    pthread_mutex_unlock(&method_lock);
    if (method == NULL)
        return NULL;
    BIO *b = BIO_new(method);
    if (b)
        BIO_set_data(b, (void *)(intptr_t)fd);
    return b;
}
