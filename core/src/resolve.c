/* Name resolution for servers, bind/listen, and the pieces connect.c
 * shares: the per-address log and the getaddrinfo failure mapping. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

void ns_attempt_log_add(ns_attempt_log *log, const struct addrinfo *ai, const char *cause, int err)
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

int ns_resolve_failure(int rc, int err, const char *what, const char *node, const char *service)
{
    const char *host = node ? node : "*";
    switch (rc) {
    case EAI_MEMORY:
        return ns_fail(NS_ERR_NOMEM, ENOMEM, "%s %s:%s: out of memory resolving", what, host,
                       service);
    case EAI_SYSTEM:
        return ns_fail(err == ENOMEM ? NS_ERR_NOMEM : NS_ERR_IO, err,
                       "%s %s:%s: resolving failed: %s", what, host, service, strerror(err));
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

int ns_check_service(const char *what, const char *node, const char *service)
{
    /* getaddrinfo takes any decimal number and truncates it to 16 bits
     * ("70000" reaches port 4464): a numeric service must be a real port. */
    size_t digits = strspn(service, "0123456789");
    if (digits == 0 || service[digits] != '\0')
        return NS_OK; /* a service name: getaddrinfo checks it */
    if (digits > 9 || strtol(service, NULL, 10) > 65535)
        return ns_fail(NS_ERR_INVALID, 0, "%s %s:%s: port %s is out of range (0 to 65535)", what,
                       node ? node : "*", service, service);
    return NS_OK;
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
    int rc = ns_check_service(what, node, service);
    if (rc != NS_OK)
        return rc;
    rc = getaddrinfo(node, service, &hints, res);
    return rc == 0 ? NS_OK : ns_resolve_failure(rc, errno, what, node, service);
}

static int new_socket_fd(const struct addrinfo *ai)
{
    return socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
}

/* One address: bind and listen.  1 done, 0 failed (logged). */
static int listen_one(const struct addrinfo *ai, ns_attempt_log *log, int *fd_out)
{
    int fd = new_socket_fd(ai);
    if (fd < 0) {
        ns_attempt_log_add(log, ai, strerror(errno), errno);
        return 0;
    }
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        int err = errno;
        close(fd);
        ns_attempt_log_add(log, ai, strerror(err), err);
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
    ns_attempt_log log = {.used = 0};
    int done = 0;
    for (struct addrinfo *ai = res; ai != NULL && !done; ai = ai->ai_next)
        done = listen_one(ai, &log, fd_out);
    freeaddrinfo(res);
    if (done)
        return NS_OK;
    return ns_fail(NS_ERR_CONNECT, log.last_errno, "listen on %s:%s failed: %s",
                   node ? node : "*", service, log.text);
}
