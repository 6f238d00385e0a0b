/* The socket handle's state, which every part (socket.c, connect.c,
 * tls.c, selector.c) shares: allocation, the descriptor's mode, the open
 * check, failures that name the peer, the wait a call asks for
 * (ns_socket_wants); and the queries and setters: modes, timeouts, names,
 * addresses, sockopts. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "internal.h"

static char *dup_or_null(const char *s, int *failed)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *failed = 1;
    return d;
}

ns_socket *ns_socket_alloc(int fd, enum ns_role role, const char *node, const char *service)
{
    ns_socket *s = calloc(1, sizeof *s);
    int failed = s == NULL;
    if (s) {
        s->fd = fd;
        s->role = role;
        s->read_timeout = -1;
        s->write_timeout = -1;
        s->want_deadline = -1;
        s->node = dup_or_null(node, &failed);
        s->service = dup_or_null(service, &failed);
        const char *fmt = node && strchr(node, ':') ? "[%s]:%s" : "%s:%s";
        snprintf(s->peer_label, sizeof s->peer_label, fmt, node ? node : "*",
                 service ? service : "?");
    }
    if (failed) {
        if (s) {
            free(s->node);
            free(s->service);
        }
        free(s);
        ns_fail(NS_ERR_NOMEM, ENOMEM, "out of memory creating a socket");
        return NULL;
    }
    return s;
}

int ns_socket_apply_options(ns_socket *s, const ns_options *o)
{
    s->non_blocking = o->non_blocking != 0;
    s->read_timeout = o->read_timeout;
    s->write_timeout = o->write_timeout;
    return ns_socket_sync_fd(s);
}

/*
 * Descriptors start O_NONBLOCK (connect, handshakes and accept wait with
 * poll under one deadline).  A plain connected socket in blocking mode then
 * lets the kernel block, with SO_RCVTIMEO as its read timeout: a recv that
 * must wait is one system call instead of poll + recv (tests/bench, item 1).
 * TLS and listening sockets stay O_NONBLOCK: one of their waits may span
 * several reads under a single deadline.
 */
int ns_socket_sync_fd(ns_socket *s)
{
    if (s->fd < 0)
        return NS_OK;
    int blocking = !s->non_blocking && s->ctx == NULL && s->role != NS_ROLE_SERVER;
    if (blocking) {
        struct timeval tv = {0, 0}; /* no timeout */
        if (s->read_timeout >= 0) {
            tv.tv_sec = (time_t)(s->read_timeout / 1000000);
            tv.tv_usec = (suseconds_t)(s->read_timeout % 1000000);
            if (s->read_timeout == 0)
                tv.tv_usec = 1; /* {0, 0} would mean "wait forever" */
        }
        if (setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
            return ns_fail_errno(s, "setting the read timeout of", errno);
    }
    if (blocking != s->fd_blocking) {
        int fl = fcntl(s->fd, F_GETFL);
        if (fl < 0 || fcntl(s->fd, F_SETFL, blocking ? fl & ~O_NONBLOCK : fl | O_NONBLOCK) < 0)
            return ns_fail_errno(s, "setting the mode of", errno);
        s->fd_blocking = blocking;
    }
    return NS_OK;
}

int ns_check_open(const ns_socket *s, const char *what)
{
    if (s == NULL)
        return ns_fail(NS_ERR_INVALID, 0, "%s: NULL socket", what);
    if (s->connecting)
        return ns_fail(NS_ERR_INVALID, 0,
                       "%s %s: still opening (call ns_socket_connect_continue until NS_OK)",
                       what, s->peer_label);
    if (s->fd < 0)
        return ns_fail(NS_ERR_CLOSED, 0, "%s %s: the socket is closed", what, s->peer_label);
    return NS_OK;
}

int ns_fail_io(const ns_socket *s, int status, int os_error, const char *what, const char *cause)
{
    ns_fail(status, os_error, "%s %s: %s", what, s->peer_label, cause);
    ns_tls_note_failure(s);
    return status;
}

int ns_fail_errno(const ns_socket *s, const char *what, int err)
{
    return ns_fail_io(s, ns_status_from_errno(err), err, what, strerror(err));
}

int ns_would_block(ns_socket *s, int want, int64_t deadline, const char *what, const char *cause)
{
    s->want = want;
    s->want_fd = s->fd;
    s->want_deadline = deadline;
    return ns_fail_io(s, NS_ERR_WOULD_BLOCK, EAGAIN, what, cause);
}

void ns_socket_begin_call(ns_socket *s)
{
    s->want = 0;
    s->want_deadline = -1;
}

/* A wait is pending: after NS_ERR_WOULD_BLOCK on an open socket, or
 * during an open. */
static int pending(const ns_socket *s)
{
    return s && (s->fd >= 0 || s->connecting) && s->want;
}

int ns_socket_wants(const ns_socket *s)
{
    return pending(s) ? s->want : 0;
}

int ns_socket_wants_fd(const ns_socket *s)
{
    return pending(s) ? s->want_fd : -1;
}

int64_t ns_socket_wants_timeout(const ns_socket *s)
{
    if (!pending(s) || s->want_deadline < 0)
        return -1;
    int64_t left = s->want_deadline - ns_now_us();
    return left > 0 ? left : 0;
}

int ns_socket_is_closed(const ns_socket *s)
{
    return s == NULL || (s->fd < 0 && s->connecting == NULL);
}
int ns_socket_is_tls(const ns_socket *s) { return s != NULL && (s->ssl != NULL || s->ctx != NULL); }
int ns_socket_fd(const ns_socket *s) { return s ? s->fd : -1; }

ns_certificate_verifier ns_socket_get_certificate_verifier(const ns_socket *s, void **userdata)
{
    const ns_verifier *v = s ? s->verifier : NULL;
    if (userdata)
        *userdata = v ? v->userdata : NULL;
    return v ? v->fn : NULL;
}

ns_key_log_callback ns_socket_get_key_log_callback(const ns_socket *s, void **userdata)
{
    const ns_key_log *k = s ? s->key_log : NULL;
    if (userdata)
        *userdata = k && k->fn ? k->userdata : NULL;
    return k ? k->fn : NULL;
}

int ns_socket_set_non_blocking(ns_socket *s, int on)
{
    NS_CHECK_HANDLE(s, "set non-blocking");
    s->non_blocking = on != 0;
    return ns_socket_sync_fd(s);
}

int ns_socket_is_non_blocking(const ns_socket *s) { return s != NULL && s->non_blocking; }

int ns_socket_set_read_timeout(ns_socket *s, int64_t us)
{
    NS_CHECK_HANDLE(s, "set read timeout");
    s->read_timeout = us < 0 ? -1 : us;
    return ns_socket_sync_fd(s);
}

int64_t ns_socket_get_read_timeout(const ns_socket *s) { return s ? s->read_timeout : -1; }

int ns_socket_set_write_timeout(ns_socket *s, int64_t us)
{
    NS_CHECK_HANDLE(s, "set write timeout");
    s->write_timeout = us < 0 ? -1 : us;
    return NS_OK;
}

int64_t ns_socket_get_write_timeout(const ns_socket *s) { return s ? s->write_timeout : -1; }
const char *ns_socket_node(const ns_socket *s) { return s ? s->node : NULL; }
const char *ns_socket_service(const ns_socket *s) { return s ? s->service : NULL; }

typedef int (*name_fn)(int, struct sockaddr *, socklen_t *);

static int address_of(const ns_socket *s, name_fn get, const char *what, char *host,
                      size_t hostlen, int *port)
{
    int rc = ns_check_open(s, what);
    if (rc != NS_OK)
        return rc;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (get(s->fd, (struct sockaddr *)&ss, &len) != 0)
        return ns_fail(ns_status_from_errno(errno), errno, "%s %s: %s", what, s->peer_label,
                       strerror(errno));
    char serv[NI_MAXSERV];
    char tmp[NI_MAXHOST];
    int g = getnameinfo((struct sockaddr *)&ss, len, tmp, sizeof tmp, serv, sizeof serv,
                        NI_NUMERICHOST | NI_NUMERICSERV);
    if (g != 0)
        return ns_fail(NS_ERR_IO, 0, "%s %s: %s", what, s->peer_label, gai_strerror(g));
    if (host) {
        if (hostlen <= strlen(tmp))
            return ns_fail(NS_ERR_INVALID, 0, "%s %s: buffer of %zu bytes is too small", what,
                           s->peer_label, hostlen);
        memcpy(host, tmp, strlen(tmp) + 1);
    }
    if (port)
        *port = atoi(serv);
    return NS_OK;
}

int ns_socket_peer_address(const ns_socket *s, char *buf, size_t len)
{
    if (buf == NULL)
        return ns_fail(NS_ERR_INVALID, 0, "peer address: NULL buffer");
    return address_of(s, getpeername, "peer address of", buf, len, NULL);
}

int ns_socket_peer_port(const ns_socket *s)
{
    int port = 0;
    int rc = address_of(s, getpeername, "peer port of", NULL, 0, &port);
    return rc != NS_OK ? rc : port;
}

int ns_socket_local_address(const ns_socket *s, char *buf, size_t len)
{
    if (buf == NULL)
        return ns_fail(NS_ERR_INVALID, 0, "local address: NULL buffer");
    return address_of(s, getsockname, "local address of", buf, len, NULL);
}

int ns_socket_local_port(const ns_socket *s)
{
    int port = 0;
    int rc = address_of(s, getsockname, "local port of", NULL, 0, &port);
    return rc != NS_OK ? rc : port;
}

int ns_socket_setsockopt(ns_socket *s, int level, int name, const void *val, size_t len)
{
    int rc = ns_check_open(s, "setsockopt on");
    if (rc != NS_OK)
        return rc;
    if (setsockopt(s->fd, level, name, val, (socklen_t)len) != 0)
        return ns_fail(errno == ENOMEM ? NS_ERR_NOMEM : NS_ERR_INVALID, errno,
                       "setsockopt(%d, %d) on %s: %s", level, name, s->peer_label,
                       strerror(errno));
    return NS_OK;
}

int ns_socket_getsockopt(ns_socket *s, int level, int name, void *val, size_t *len)
{
    int rc = ns_check_open(s, "getsockopt on");
    if (rc != NS_OK)
        return rc;
    if (len == NULL || val == NULL)
        return ns_fail(NS_ERR_INVALID, 0, "getsockopt on %s: NULL value or length",
                       s->peer_label);
    socklen_t sl = (socklen_t)*len;
    if (getsockopt(s->fd, level, name, val, &sl) != 0)
        return ns_fail(NS_ERR_INVALID, errno, "getsockopt(%d, %d) on %s: %s", level, name,
                       s->peer_label, strerror(errno));
    *len = sl;
    return NS_OK;
}

void ns_socket_label_local(ns_socket *s)
{
    char host[64];
    int port = 0;
    if (address_of(s, getsockname, "local address of", host, sizeof host, &port) == NS_OK)
        snprintf(s->peer_label, sizeof s->peer_label, strchr(host, ':') ? "[%s]:%d" : "%s:%d",
                 host, port);
}
