/* A BoringSSL BIO over a socket descriptor that never raises SIGPIPE
 * (send with MSG_NOSIGNAL) and retries EINTR.  BoringSSL's own socket BIO
 * uses write(), which raises SIGPIPE on a reset connection.
 *
 * Reads ahead: BoringSSL asks for each record in two reads (the 5-byte
 * header, then the body), which is two recv() calls per record.  A small
 * read (the header) instead asks the kernel for up to NS_READ_AHEAD bytes
 * at once, so a small record costs one recv() and the body is served from
 * memory.  The buffer exists only while it holds bytes: an idle connection
 * keeps none.  Large reads (bodies not yet received) go straight into
 * BoringSSL's buffer, and after a large record the next header is read
 * directly too, so a bulk stream is read exactly as without read-ahead
 * (no extra copy or allocation per record) until a small record comes.
 *
 * Frames records: it follows the record headers in the byte stream, so it
 * can tell whether a whole record is buffered beyond what BoringSSL has
 * taken (a recv can make progress without the fd) or only part of one (it
 * cannot: the selector must not report it).  BoringSSL reads exactly the
 * bytes of the record it is opening and opens it as soon as it has them,
 * so what it holds unopened is never more than part of one record. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/ssl3.h>

#include "internal.h"

/* Enough for a few small records; a read this large or larger bypasses it. */
#define NS_READ_AHEAD 4096

typedef struct {
    int fd;
    uint8_t *ahead; /* NULL unless it holds unread bytes */
    size_t pos, len;
    int large;      /* the last record body read was large: no read-ahead */
    /* Stream offsets: bytes received from the fd, handed to BoringSSL, the
     * end of the last whole record received, and the record being framed
     * (its start, header bytes seen so far, and its end once known). */
    uint64_t received, handed, whole_end, record_start, record_end;
    uint8_t header[SSL3_RT_HEADER_LENGTH];
    size_t header_len;
    uint8_t first[16]; /* the first bytes received, for error messages */
    size_t first_len;
} fd_bio;

static BIO_METHOD *method;
/* Made on first use under a lock (not pthread_once) so that a failed
 * allocation is retried next time instead of disabling TLS for good. */
static pthread_mutex_t method_lock = PTHREAD_MUTEX_INITIALIZER;

static fd_bio *state_of(BIO *b) { return BIO_get_data(b); }

static int bio_write(BIO *b, const char *buf, int len)
{
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t n = send(state_of(b)->fd, buf, (size_t)len, MSG_NOSIGNAL);
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_write(b);
        return -1;
    }
}

/* Follows the record headers through n bytes just received. */
static void frame(fd_bio *st, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (st->header_len < SSL3_RT_HEADER_LENGTH) {
            st->header[st->header_len++] = p[i++];
            if (st->header_len == SSL3_RT_HEADER_LENGTH)
                st->record_end = st->record_start + SSL3_RT_HEADER_LENGTH +
                                 ((size_t)st->header[3] << 8 | st->header[4]);
        } else {
            uint64_t left = st->record_end - (st->received + i);
            i += left < n - i ? (size_t)left : n - i;
        }
        if (st->header_len == SSL3_RT_HEADER_LENGTH && st->received + i == st->record_end) {
            st->whole_end = st->record_start = st->record_end;
            st->header_len = 0;
        }
    }
    st->received += n;
}

/* recv() with EINTR retried; sets the retry flag on EAGAIN. */
static ssize_t recv_fd(BIO *b, void *buf, size_t len)
{
    fd_bio *st = state_of(b);
    for (;;) {
        ssize_t n = recv(st->fd, buf, len, 0);
        if (n >= 0) {
            size_t keep = sizeof st->first - st->first_len;
            keep = (size_t)n < keep ? (size_t)n : keep;
            memcpy(st->first + st->first_len, buf, keep);
            st->first_len += keep;
            frame(st, buf, (size_t)n);
            return n;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_read(b);
        return -1;
    }
}

/* Serves up to len bytes from the read-ahead buffer, dropping it once empty. */
static int take_ahead(fd_bio *st, char *buf, int len)
{
    size_t n = st->len - st->pos < (size_t)len ? st->len - st->pos : (size_t)len;
    memcpy(buf, st->ahead + st->pos, n);
    st->pos += n;
    st->handed += n;
    if (st->pos == st->len) {
        free(st->ahead);
        st->ahead = NULL;
        st->pos = st->len = 0;
    }
    return (int)n;
}

size_t ns_bio_first_bytes(BIO *b, const uint8_t **out)
{
    fd_bio *st = b ? state_of(b) : NULL;
    *out = st ? st->first : NULL;
    return st ? st->first_len : 0;
}

static int bio_read(BIO *b, char *buf, int len)
{
    fd_bio *st = state_of(b);
    BIO_clear_retry_flags(b);
    if (st->ahead)
        return take_ahead(st, buf, len);
    /* BoringSSL asks for a record header alone (SSL3_RT_HEADER_LENGTH bytes),
     * then for the body; a body's size says which kind of stream this is. */
    if (len != SSL3_RT_HEADER_LENGTH)
        st->large = len >= NS_READ_AHEAD;
    if (st->large || len >= NS_READ_AHEAD || (st->ahead = malloc(NS_READ_AHEAD)) == NULL) {
        ssize_t n = recv_fd(b, buf, (size_t)len); /* (or no memory: read unbuffered) */
        st->handed += n > 0 ? (uint64_t)n : 0;
        return (int)n;
    }
    ssize_t n = recv_fd(b, st->ahead, NS_READ_AHEAD);
    if (n <= 0) {
        int err = errno; /* the caller classifies the failure by errno */
        free(st->ahead);
        st->ahead = NULL;
        errno = err;
        return (int)n;
    }
    st->len = (size_t)n;
    return take_ahead(st, buf, len);
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_PENDING: {
        fd_bio *st = state_of(b);
        return st ? (long)(st->len - st->pos) : 0;
    }
    default:
        return 0;
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static int bio_destroy(BIO *b)
{
    fd_bio *st = state_of(b);
    if (st) {
        free(st->ahead);
        free(st);
        BIO_set_data(b, NULL);
    }
    return 1;
}

static void make_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_TYPE_SOURCE_SINK | BIO_get_new_index(), "netsocket fd");
    if (m && BIO_meth_set_write(m, bio_write) && BIO_meth_set_read(m, bio_read) &&
        BIO_meth_set_ctrl(m, bio_ctrl) && BIO_meth_set_create(m, bio_create) &&
        BIO_meth_set_destroy(m, bio_destroy)) {
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
    fd_bio *st = calloc(1, sizeof *st);
    BIO *b = st ? BIO_new(method) : NULL;
    if (b == NULL) {
        free(st);
        return NULL;
    }
    st->fd = fd;
    BIO_set_data(b, st);
    return b;
}

int ns_bio_whole_record(BIO *b)
{
    fd_bio *st = b ? state_of(b) : NULL;
    return st ? st->whole_end > st->handed : 0;
}
