/* Name resolution, connect with one deadline over every address, and
 * bind/listen for servers. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* Accumulates "addr port N: cause; ..." for the final error message. */
typedef struct {
    char text[768];
    size_t used;
    int last_errno;
} attempt_log;

static void log_attempt(attempt_log *log, const struct addrinfo *ai, const char *cause, int err)
{
    char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";
    getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, serv, sizeof serv,
                NI_NUMERICHOST | NI_NUMERICSERV);
    if (log->used < sizeof log->text) {
        int n = snprintf(log->text + log->used, sizeof log->text - log->used, "%s%s port %s: %s",
                         log->used ? "; " : "", host, serv, cause);
        log->used += n > 0 ? (size_t)n : 0;
        if (log->used >= sizeof log->text)
            log->used = sizeof log->text - 1;
    }
    log->last_errno = err;
}

static int resolve(const char *node, const char *service, const ns_options *o, int extra_flags,
                   struct addrinfo **res, const char *what)
{
    struct addrinfo hints = {
        .ai_family = o->ai_family,
        .ai_socktype = o->ai_socktype,
        .ai_protocol = o->ai_protocol,
        .ai_flags = o->ai_flags | extra_flags,
    };
    int rc = getaddrinfo(node, service, &hints, res);
    if (rc == 0)
        return NS_OK;
    const char *host = node ? node : "*";
    switch (rc) {
    case EAI_MEMORY:
        return ns_fail(NS_ERR_NOMEM, ENOMEM, "%s %s:%s: out of memory resolving", what, host,
                       service);
    case EAI_SYSTEM:
        return ns_fail(errno == ENOMEM ? NS_ERR_NOMEM : NS_ERR_IO, errno,
                       "%s %s:%s: resolving failed: %s", what, host, service, strerror(errno));
    case EAI_BADFLAGS:
    case EAI_FAMILY:
    case EAI_SOCKTYPE:
        return ns_fail(NS_ERR_INVALID, 0, "%s %s:%s: bad address hints: %s", what, host, service,
                       gai_strerror(rc));
    default:
        return ns_fail(NS_ERR_HOST_NOT_FOUND, 0, "%s %s:%s: host or service not found: %s", what,
                       host, service, gai_strerror(rc));
    }
}

static int new_socket_fd(const struct addrinfo *ai)
{
    return socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
}

/* One address: 1 connected, 0 failed (logged), -1 the deadline passed,
 * -2 interrupted (ns_set_thread_interrupt). */
static int connect_one(const struct addrinfo *ai, int64_t deadline, attempt_log *log, int *fd_out)
{
    int fd = new_socket_fd(ai);
    if (fd < 0) {
        log_attempt(log, ai, strerror(errno), errno);
        return 0;
    }
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && (errno == EINPROGRESS || errno == EINTR)) {
        int ready = ns_poll_fd(fd, POLLOUT, deadline);
        if (ready == 0) {
            close(fd);
            log_attempt(log, ai, "timed out", ETIMEDOUT);
            return -1;
        }
        if (ready == -EINTR) { /* the thread's interrupt: stop, try no other address */
            close(fd);
            return -2;
        }
        int err = 0;
        socklen_t len = sizeof err;
        if (ready < 0)
            err = -ready;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        errno = err;
        rc = err == 0 ? 0 : -1;
    }
    if (rc != 0) {
        int err = errno;
        close(fd);
        log_attempt(log, ai, strerror(err), err);
        return 0;
    }
    *fd_out = fd;
    return 1;
}

int ns_open_client_fd(const char *node, const char *service, const ns_options *o,
                      int64_t deadline, int *fd_out)
{
    if (node == NULL || service == NULL)
        return ns_fail(NS_ERR_INVALID, 0, "connect: node and service are required");
    if (o->ai_flags & AI_PASSIVE)
        return ns_fail(NS_ERR_INVALID, 0,
                       "connect to %s:%s: AI_PASSIVE is for servers, not client sockets", node,
                       service);
    struct addrinfo *res = NULL;
    int rc = resolve(node, service, o, 0, &res, "connect to");
    if (rc != NS_OK)
        return rc;
    attempt_log log = {.used = 0};
    int outcome = 0;
    for (struct addrinfo *ai = res; ai != NULL && outcome == 0; ai = ai->ai_next)
        outcome = connect_one(ai, deadline, &log, fd_out);
    freeaddrinfo(res);
    if (outcome == 1)
        return NS_OK;
    if (outcome == -2)
        return ns_fail(NS_ERR_IO, EINTR, "connect to %s:%s: interrupted", node, service);
    if (outcome < 0)
        return ns_fail(NS_ERR_CONNECT_TIMEOUT, ETIMEDOUT,
                       "connect to %s:%s timed out after %lld us (%s)", node, service,
                       (long long)o->connection_timeout, log.text);
    return ns_fail(NS_ERR_CONNECT, log.last_errno, "connect to %s:%s failed: %s", node, service,
                   log.text);
}

/* One address: bind and listen.  1 done, 0 failed (logged). */
static int listen_one(const struct addrinfo *ai, attempt_log *log, int *fd_out)
{
    int fd = new_socket_fd(ai);
    if (fd < 0) {
        log_attempt(log, ai, strerror(errno), errno);
        return 0;
    }
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        int err = errno;
        close(fd);
        log_attempt(log, ai, strerror(err), err);
        return 0;
    }
    *fd_out = fd;
    return 1;
}

int ns_open_server_fd(const char *node, const char *service, const ns_options *o, int *fd_out)
{
    if (service == NULL)
        return ns_fail(NS_ERR_INVALID, 0, "listen: a service (port) is required");
    struct addrinfo *res = NULL;
    int rc = resolve(node, service, o, AI_PASSIVE, &res, "listen on");
    if (rc != NS_OK)
        return rc;
    attempt_log log = {.used = 0};
    int done = 0;
    for (struct addrinfo *ai = res; ai != NULL && !done; ai = ai->ai_next)
        done = listen_one(ai, &log, fd_out);
    freeaddrinfo(res);
    if (done)
        return NS_OK;
    return ns_fail(NS_ERR_CONNECT, log.last_errno, "listen on %s:%s failed: %s",
                   node ? node : "*", service, log.text);
}
