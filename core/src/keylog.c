/* The opt-in key log: TLS secrets in the NSS key log format ("CLIENT_RANDOM
 * ..." / "CLIENT_HANDSHAKE_TRAFFIC_SECRET ..." lines) for Wireshark, written
 * to a file or handed to a callback.  Nothing reads SSLKEYLOGFILE: a library
 * inside someone else's process must not start writing its secrets because
 * of an inherited environment variable; a program that wants that behaviour
 * passes getenv("SSLKEYLOGFILE") to ns_options_set_key_log_file itself. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

ns_key_log *ns_key_log_ref(ns_key_log *k)
{
    if (k)
        ns_ref_get(&k->refs);
    return k;
}

void ns_key_log_unref(ns_key_log *k)
{
    if (k == NULL || !ns_ref_put(&k->refs))
        return;
    if (k->release)
        k->release(k->userdata);
    if (k->fd >= 0)
        close(k->fd);
    free(k->path);
    free(k);
}

/* Opens path for appending, readable by its owner only when created. */
ns_key_log *ns_key_log_open(const char *path)
{
    ns_key_log *k = calloc(1, sizeof *k);
    char *copy = strdup(path);
    if (k == NULL || copy == NULL) {
        free(k);
        free(copy);
        ns_fail(NS_ERR_NOMEM, ENOMEM, "key-log: out of memory");
        return NULL;
    }
    k->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (k->fd < 0) {
        int err = errno;
        free(k);
        free(copy);
        ns_fail(err == ENOMEM ? NS_ERR_NOMEM : NS_ERR_INVALID, err,
                "key-log: cannot open %s: %s", path, strerror(err));
        return NULL;
    }
    ns_ref_init(&k->refs, 1);
    k->path = copy;
    return k;
}

ns_key_log *ns_key_log_with(ns_key_log_callback fn, void *userdata, ns_release_function release)
{
    ns_key_log *k = calloc(1, sizeof *k);
    if (k == NULL) {
        if (release)
            release(userdata);
        ns_fail(NS_ERR_NOMEM, ENOMEM, "key-log: out of memory");
        return NULL;
    }
    ns_ref_init(&k->refs, 1);
    k->fd = -1;
    k->fn = fn;
    k->userdata = userdata;
    k->release = release;
    return k;
}

/* One write per line: O_APPEND keeps lines from threads whole. */
static void key_log_line(const SSL *ssl, const char *line)
{
    const ns_socket *s = SSL_get_app_data(ssl);
    const ns_key_log *k = s ? s->key_log : NULL;
    if (k == NULL)
        return;
    if (k->fn) {
        k->fn(k->userdata, line);
        return;
    }
    struct iovec iov[2] = {{(void *)line, strlen(line)}, {"\n", 1}};
    ssize_t n;
    do
        n = writev(k->fd, iov, 2);
    while (n < 0 && errno == EINTR);
    /* A full disk loses a debugging line; the connection goes on. */
}

void ns_key_log_install(SSL_CTX *ctx, const ns_key_log *k)
{
    if (k)
        SSL_CTX_set_keylog_callback(ctx, key_log_line);
}
