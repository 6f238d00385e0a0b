/* Socket handles: allocation and descriptor mode, the wait a call asks for
 * (ns_socket_wants), the constructors (clients through connect.c), plain
 * I/O, accept, shutdown, close and free.  Queries are in socket_info.c. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

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

static int fail_errno(const ns_socket *s, const char *what, int err);

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
            return fail_errno(s, "setting the read timeout of", errno);
    }
    if (blocking != s->fd_blocking) {
        int fl = fcntl(s->fd, F_GETFL);
        if (fl < 0 || fcntl(s->fd, F_SETFL, blocking ? fl & ~O_NONBLOCK : fl | O_NONBLOCK) < 0)
            return fail_errno(s, "setting the mode of", errno);
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

static int fail_errno(const ns_socket *s, const char *what, int err)
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

/* ---- constructors ---- */

/* A handle for a new descriptor; the descriptor is closed if that fails. */
static ns_socket *wrap_fd(int fd, enum ns_role role, const char *node, const char *service)
{
    ns_socket *s = ns_socket_alloc(fd, role, node, service);
    if (s == NULL)
        close(fd);
    return s;
}

/* The common end of every constructor: options applied on success, the
 * half-made socket freed on failure, owned options and the configuration
 * reference freed either way. */
static ns_socket *finish_open(ns_socket *s, const ns_options *values, ns_options *owned,
                              ns_tls_config *c, int ok)
{
    if (!ok || ns_socket_apply_options(s, values) != NS_OK) {
        ns_socket_free(s);
        s = NULL;
    }
    ns_options_free(owned);
    ns_tls_config_unref(c);
    return s;
}

/* The blocking constructors drive the machine of ns_socket_connect_start
 * (connect.c) to its end. */
static ns_socket *make_client(const char *node, const char *service, const ns_options *o,
                              int tls)
{
    ns_socket *s = ns_connect_begin(o, node, service, tls, 1);
    if (s && ns_connect_drive(s) != NS_OK) {
        ns_socket_free(s);
        return NULL;
    }
    return s;
}

ns_socket *ns_make_client_socket(const char *node, const char *service, const ns_options *o)
{
    return make_client(node, service, o, 0);
}

ns_socket *ns_make_client_tls_socket(const char *node, const char *service, const ns_options *o)
{
    return make_client(node, service, o, 1);
}

ns_socket *ns_socket_connect(const ns_options *o, const char *node, const char *service)
{
    if (o == NULL) {
        ns_fail(NS_ERR_INVALID, 0, "socket-options->client-socket: NULL options");
        return NULL;
    }
    return make_client(node, service, o, ns_options_is_tls(o));
}

static ns_socket *make_server(const char *node, const char *service, const ns_options *o,
                              int tls)
{
    ns_options *owned = NULL, values;
    ns_tls_config *c = NULL;
    ns_socket *s = NULL;
    int fd = -1;
    const ns_options *opts =
        ns_options_for(o, tls ? NS_SERVER_TLS_SOCKET_OPTIONS : NS_SOCKET_OPTIONS, &owned);
    if (opts == NULL)
        return NULL;
    int ok = ns_options_snapshot(opts, tls, 1, &values, &c) == NS_OK;
    ok = ok && ns_open_server_fd(node, service, &values, &fd) == NS_OK &&
         (s = wrap_fd(fd, NS_ROLE_SERVER, NULL, service)) != NULL;
    if (ok && tls) {
        ns_tls_server_start(s, c);
        s->handshake_on_accept = values.handshake;
        s->ignore_unexpected_eof = values.ignore_unexpected_eof != 0;
    }
    if (ok) /* messages name the address actually bound, e.g. 127.0.0.1:41234 */
        ns_socket_label_local(s);
    return finish_open(s, &values, owned, c, ok);
}

ns_socket *ns_make_server_socket(const char *node, const char *service, const ns_options *o)
{
    return make_server(node, service, o, 0);
}

ns_socket *ns_make_server_tls_socket(const char *node, const char *service, const ns_options *o)
{
    return make_server(node, service, o, 1);
}

/* ---- I/O ---- */

/* Waits for `events` or the deadline (a miss: `status`, after `budget`). */
static int wait_fd_for(ns_socket *s, short events, int64_t deadline, int64_t budget, int status,
                       const char *what)
{
    int r = ns_poll_fd(s->fd, events, deadline);
    if (r > 0)
        return NS_OK;
    if (r < 0)
        return fail_errno(s, what, -r);
    return ns_fail(status, ETIMEDOUT, "%s %s timed out after %lld us", what, s->peer_label,
                   (long long)budget);
}

/* Waits for `events` or the deadline of the read timeout. */
static int wait_fd(ns_socket *s, short events, int64_t deadline, const char *what)
{
    return wait_fd_for(s, events, deadline, s->read_timeout, NS_ERR_READ_TIMEOUT, what);
}

/* One send; `wait` makes a full socket buffer wait (until `deadline`, the
 * write timeout's) instead of failing.  A blocking descriptor blocks in the
 * kernel, unless a write timeout asks for a poll with its deadline. */
static ssize_t send_once(ns_socket *s, const void *buf, size_t len, int flags, int wait,
                         int64_t deadline)
{
    if (s->ssl)
        return ns_tls_send(s, buf, len, wait, deadline);
    if (s->fd_blocking && (deadline >= 0 || ns_interrupt_fd() >= 0))
        flags |= MSG_DONTWAIT; /* wait in poll: the deadline, and the interrupt fd if any */
    for (;;) {
        ssize_t n = send(s->fd, buf, len, flags | MSG_NOSIGNAL);
        if (n >= 0)
            return n;
        if (errno == EINTR && ns_interrupted())
            return fail_errno(s, "send to", EINTR);
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return fail_errno(s, "send to", errno);
        if (!wait)
            return ns_would_block(s, NS_WANT_WRITE, deadline, "send to",
                                  "the socket buffer is full (non-blocking)");
        int rc = wait_fd_for(s, POLLOUT, deadline, s->write_timeout, NS_ERR_WRITE_TIMEOUT,
                             "send to");
        if (rc != NS_OK)
            return rc;
    }
}

static int check_buffer(const ns_socket *s, const void *buf, size_t len, const char *what)
{
    int rc = ns_check_open(s, what);
    if (rc == NS_OK && buf == NULL && len > 0)
        rc = ns_fail(NS_ERR_INVALID, 0, "%s %s: NULL buffer", what, s->peer_label);
    if (rc == NS_OK && s->role == NS_ROLE_SERVER)
        rc = ns_fail(NS_ERR_INVALID, 0, "%s %s: a listening socket has no peer", what,
                     s->peer_label);
    return rc;
}

ssize_t ns_socket_send(ns_socket *s, const void *buf, size_t len, int flags)
{
    int rc = check_buffer(s, buf, len, "send to");
    if (rc != NS_OK)
        return rc;
    ns_socket_begin_call(s);
    return send_once(s, buf, len, flags, !s->non_blocking, ns_deadline_after(s->write_timeout));
}

ssize_t ns_socket_send_all(ns_socket *s, const void *buf, size_t len, int flags)
{
    int rc = check_buffer(s, buf, len, "send to");
    if (rc != NS_OK)
        return rc;
    ns_socket_begin_call(s);
    int64_t deadline = ns_deadline_after(s->write_timeout);
    size_t done = 0;
    while (done < len) {
        ssize_t n = send_once(s, (const char *)buf + done, len - done, flags, 1, deadline);
        if (n == NS_ERR_WRITE_TIMEOUT) { /* say how far it got */
            char msg[512];
            snprintf(msg, sizeof msg, "%s", ns_last_error());
            return ns_fail(NS_ERR_WRITE_TIMEOUT, ETIMEDOUT, "%s (%zu of %zu bytes sent)", msg,
                           done, len);
        }
        if (n < 0)
            return n;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

/* A plain socket in blocking mode has a blocking descriptor (see
 * ns_socket_sync_fd), so its recv waits in the kernel: one system call. */
static ssize_t recv_once(ns_socket *s, void *buf, size_t len, int flags, int64_t deadline)
{
    /* With an interrupt fd, wait in poll (which watches it too), not in the kernel's recv. */
    int sys_flags = flags | (s->fd_blocking && ns_interrupt_fd() >= 0 ? MSG_DONTWAIT : 0);
    for (;;) {
        ssize_t n = recv(s->fd, buf, len, sys_flags);
        if (n >= 0)
            return n;
        if (errno == EINTR && ns_interrupted())
            return fail_errno(s, "recv from", EINTR);
        if (errno == EINTR) {
            /* A blocking descriptor restarts SO_RCVTIMEO after a signal:
             * hold to the deadline with a poll, then read again. */
            if (s->fd_blocking && deadline >= 0) {
                int rc = wait_fd(s, POLLIN, deadline, "recv from");
                if (rc != NS_OK)
                    return rc;
            }
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return fail_errno(s, "recv from", errno);
        if (s->non_blocking || (flags & MSG_DONTWAIT))
            return ns_would_block(s, NS_WANT_READ, deadline, "recv from",
                                  s->non_blocking ? "no data yet (non-blocking)"
                                                  : "no data yet (MSG_DONTWAIT)");
        int rc = wait_fd(s, POLLIN, deadline, "recv from");
        if (rc != NS_OK)
            return rc;
    }
}

ssize_t ns_socket_recv(ns_socket *s, void *buf, size_t len, int flags)
{
    int rc = check_buffer(s, buf, len, "recv from");
    if (rc != NS_OK)
        return rc;
    ns_socket_begin_call(s);
    if (s->ssl)
        return ns_tls_recv(s, buf, len, flags);
    int64_t deadline = ns_deadline_after(s->read_timeout);
    if (!(flags & MSG_WAITALL) || s->non_blocking || (flags & MSG_DONTWAIT))
        return recv_once(s, buf, len, flags & ~MSG_WAITALL, deadline);
    /* A peek cannot be gathered piece by piece (each piece would peek at
     * the same first bytes): the kernel waits for all of it on the blocking
     * descriptor, under SO_RCVTIMEO. */
    if (flags & MSG_PEEK)
        return recv_once(s, buf, len, flags, deadline);
    /* MSG_WAITALL: gather until full, end of stream, or the read timeout
     * (a signal ends the kernel's own wait early). */
    size_t got = 0;
    while (got < len) {
        ssize_t n = recv_once(s, (char *)buf + got, len - got, flags & ~MSG_WAITALL, deadline);
        if (n < 0) /* bytes already taken are returned; the error recurs next call */
            return got > 0 ? (ssize_t)got : n;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/*
 * A TLS server's handshake on accept, bounded (see
 * ns_tls_start_handshake_clock) so that a silent or slow client cannot hold
 * the server.  A non-blocking server never waits for it: the socket comes
 * back at once with the handshake pending, and its first calls (or the
 * caller's loop, told by ns_socket_wants to wait to read) drive it.
 */
static int accept_handshake(ns_socket *server, ns_socket *conn)
{
    int rc = ns_tls_accept_start(server, conn);
    if (rc != NS_OK || !server->handshake_on_accept)
        return rc;
    ns_tls_start_handshake_clock(conn);
    if (conn->non_blocking) {
        conn->want = NS_WANT_READ; /* the client speaks first */
        conn->want_fd = conn->fd;
        conn->want_deadline = conn->handshake_deadline;
        return NS_OK;
    }
    return ns_tls_handshake(conn, conn->handshake_deadline, conn->handshake_budget, 0,
                            NS_ERR_READ_TIMEOUT);
}

ns_socket *ns_socket_accept(ns_socket *server)
{
    if (ns_check_open(server, "accept on") != NS_OK)
        return NULL;
    if (server->role != NS_ROLE_SERVER) {
        ns_fail(NS_ERR_INVALID, 0, "accept on %s: not a server socket", server->peer_label);
        return NULL;
    }
    ns_socket_begin_call(server);
    struct sockaddr_storage peer;
    int fd;
    int64_t deadline = -2; /* the read timeout's, set when a wait starts */
    for (;;) {
        socklen_t plen = sizeof peer;
        fd = accept4(server->fd, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0)
            break;
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            /* EMFILE/ENFILE land here: the server stays usable. */
            fail_errno(server, "accept on", errno);
            return NULL;
        }
        if (server->non_blocking) {
            ns_would_block(server, NS_WANT_READ, ns_deadline_after(server->read_timeout),
                           "accept on", "no pending connection (non-blocking)");
            return NULL;
        }
        if (deadline == -2)
            deadline = ns_deadline_after(server->read_timeout);
        if (wait_fd(server, POLLIN, deadline, "accept on") != NS_OK)
            return NULL;
    }
    char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";
    getnameinfo((struct sockaddr *)&peer, sizeof peer, host, sizeof host, serv, sizeof serv,
                NI_NUMERICHOST | NI_NUMERICSERV);
    ns_socket *conn = ns_socket_alloc(fd, NS_ROLE_ACCEPTED, NULL, NULL);
    if (conn == NULL) {
        close(fd);
        return NULL;
    }
    snprintf(conn->peer_label, sizeof conn->peer_label, strchr(host, ':') ? "[%s]:%s" : "%s:%s",
             host, serv);
    conn->non_blocking = server->non_blocking;
    conn->read_timeout = server->read_timeout;
    conn->write_timeout = server->write_timeout;
    if (server->ctx != NULL && accept_handshake(server, conn) != NS_OK) {
        ns_socket_free(conn);
        return NULL;
    }
    if (ns_socket_sync_fd(conn) != NS_OK) {
        ns_socket_free(conn);
        return NULL;
    }
    return conn;
}

int ns_socket_handshake(ns_socket *s)
{
    int rc = ns_check_open(s, "TLS handshake with");
    if (rc != NS_OK)
        return rc;
    if (s->ssl == NULL)
        return ns_fail_io(s, NS_ERR_INVALID, 0, "TLS handshake with", "not a TLS socket");
    ns_socket_begin_call(s);
    return ns_tls_resume_handshake(s);
}

int ns_socket_shutdown(ns_socket *s, int how)
{
    int rc = ns_check_open(s, "shutdown of");
    if (rc != NS_OK)
        return rc;
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
        return ns_fail_io(s, NS_ERR_INVALID, 0, "shutdown of", "how must be SHUT_RD, SHUT_WR or SHUT_RDWR");
    if (s->ssl && how != SHUT_RD)
        ns_tls_shutdown_write(s);
    if (shutdown(s->fd, how) != 0)
        return fail_errno(s, "shutdown of", errno);
    return NS_OK;
}

int ns_socket_close(ns_socket *s)
{
    if (s == NULL)
        return ns_fail(NS_ERR_INVALID, 0, "close: NULL socket");
    ns_connecting_free(s);
    if (s->fd < 0)
        return NS_OK;
    ns_selector_forget(s);
    if (s->ssl)
        ns_tls_shutdown_write(s);
    /* close() always releases the descriptor on Linux, even on EINTR. */
    close(s->fd);
    s->fd = -1;
    return NS_OK;
}

void ns_socket_free(ns_socket *s)
{
    if (s == NULL)
        return;
    ns_socket_close(s);
    ns_tls_free(s);
    free(s->node);
    free(s->service);
    free(s);
}
