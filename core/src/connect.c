/*
 * Opening a client without blocking: ns_socket_connect_start and
 * ns_socket_connect_continue.  A state machine in three phases:
 *
 *  1. Resolution.  getaddrinfo blocks, so a name (not a numeric address,
 *     which is resolved at once) is resolved on a thread of its own that
 *     signals an eventfd.  Chosen over glibc's getaddrinfo_a (which also
 *     runs a thread per request, but notifies by signal or by a thread of
 *     its own and cannot be cancelled) and over c-ares (a new dependency
 *     that bypasses nsswitch: no mDNS, LDAP or systemd-resolved modules): a
 *     plain thread keeps getaddrinfo's exact behaviour.  The thread
 *     shares only a reference-counted request, so a socket freed
 *     mid-resolution costs nothing more than the thread finishing alone.
 *  2. Connection attempts, Happy Eyeballs v2 (RFC 8305): addresses
 *     interleaved by family, IPv6 first; a new attempt every 250 ms while
 *     earlier ones are pending (at once when one fails); the first to
 *     connect wins and the others are closed.  So an address that never
 *     answers delays the next by 250 ms, not by the whole connection
 *     timeout, whatever the family.
 *  3. The TLS handshake, when the options ask for it.
 *
 * The whole open is under the connection timeout.  The caller waits
 * (ns_socket_wants_fd) for the resolver's eventfd to be readable, for a
 * single attempt's socket to be writable, for an epoll descriptor that
 * gathers several attempts (made only then) to be readable, and in phase 3
 * for the socket's own.  The blocking constructors drive the same machine,
 * so a numeric address costs no descriptor or system call beyond the
 * connection's own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

#define ATTEMPT_DELAY_US 250000 /* RFC 8305's Connection Attempt Delay */

/* A name being resolved: shared by the socket and the resolver thread. */
typedef struct {
    ns_ref refs; /* the socket's and the thread's */
    int efd;  /* written once the answer is in */
    char *node, *service;
    struct addrinfo hints;
    int rc, err;
    struct addrinfo *res;
} lookup;

typedef struct {
    int fd;
    const struct addrinfo *ai;
} attempt;

struct ns_connecting {
    lookup *lk;                /* while resolving */
    struct addrinfo *res;      /* the answer, owned */
    const struct addrinfo **order;
    size_t naddr, next;
    attempt *attempts;
    size_t nattempts;
    int epfd;                  /* -1 until a second attempt is pending */
    int64_t deadline, next_at;
    int tls, handshaking;
    ns_options values;         /* the options' snapshot */
    ns_tls_config *config;     /* TLS: own reference */
    ns_attempt_log log;
};

static void lookup_unref(lookup *lk)
{
    if (lk == NULL || !ns_ref_put(&lk->refs))
        return;
    if (lk->res)
        freeaddrinfo(lk->res);
    close(lk->efd);
    free(lk->node);
    free(lk->service);
    free(lk);
}

static void *resolve_thread(void *arg)
{
    lookup *lk = arg;
    lk->rc = getaddrinfo(lk->node, lk->service, &lk->hints, &lk->res);
    lk->err = errno;
    uint64_t one = 1;
    /* The write publishes rc/res: the reader sees them after reading it. */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    if (write(lk->efd, &one, sizeof one) < 0) {
        /* an eventfd write of 1 cannot fail short of overflow */
    }
    lookup_unref(lk);
    return NULL;
}

/* Starts the resolver thread (signals blocked in it: they belong to the
 * caller's threads). */
static int start_lookup(ns_connecting *c, const char *node, const char *service,
                        const struct addrinfo *hints)
{
    lookup *lk = calloc(1, sizeof *lk);
    if (lk == NULL)
        return ns_fail(NS_ERR_NOMEM, ENOMEM, "connect to %s:%s: out of memory", node, service);
    ns_ref_init(&lk->refs, 2);
    lk->hints = *hints;
    lk->node = strdup(node);
    lk->service = strdup(service);
    lk->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int err = 0;
    if (!lk->node || !lk->service)
        err = ENOMEM;
    else if (lk->efd < 0)
        err = errno;
    if (err == 0) {
        pthread_attr_t attr;
        sigset_t all, old;
        sigfillset(&all);
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pthread_t t;
        err = pthread_create(&t, &attr, resolve_thread, lk);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
    }
    if (err != 0) {
        ns_ref_put(&lk->refs); /* the thread's: it never started */
        lookup_unref(lk);
        return ns_fail(err == ENOMEM || err == EAGAIN ? NS_ERR_NOMEM : NS_ERR_IO, err,
                       "connect to %s:%s: cannot start resolving: %s", node, service,
                       strerror(err));
    }
    c->lk = lk;
    return NS_OK;
}

/* The first address in the chain from ai of the family asked (IPv6 or not). */
static const struct addrinfo *next_of(const struct addrinfo *ai, int v6)
{
    while (ai && (ai->ai_family == AF_INET6) != v6)
        ai = ai->ai_next;
    return ai;
}

/* Addresses in the order to try: families interleaved, IPv6 first
 * (RFC 8305, section 4), each family in getaddrinfo's order. */
static int order_addresses(ns_connecting *c)
{
    size_t n = 0;
    for (const struct addrinfo *ai = c->res; ai; ai = ai->ai_next)
        n++;
    c->order = calloc(n ? n : 1, sizeof *c->order);
    c->attempts = calloc(n ? n : 1, sizeof *c->attempts);
    if (!c->order || !c->attempts)
        return ns_fail(NS_ERR_NOMEM, ENOMEM, "connect: out of memory");
    const struct addrinfo *p6 = next_of(c->res, 1), *p4 = next_of(c->res, 0);
    while (p6 || p4) {
        if (p6) {
            c->order[c->naddr++] = p6;
            p6 = next_of(p6->ai_next, 1);
        }
        if (p4) {
            c->order[c->naddr++] = p4;
            p4 = next_of(p4->ai_next, 0);
        }
    }
    return NS_OK;
}

static void close_attempt(ns_connecting *c, size_t i)
{
    if (c->epfd >= 0)
        epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->attempts[i].fd, NULL);
    close(c->attempts[i].fd);
    c->attempts[i] = c->attempts[--c->nattempts];
}

void ns_connecting_free(ns_socket *s)
{
    ns_connecting *c = s->connecting;
    if (c == NULL)
        return;
    while (c->nattempts > 0)
        close_attempt(c, 0);
    lookup_unref(c->lk);
    if (c->res)
        freeaddrinfo(c->res);
    if (c->epfd >= 0)
        close(c->epfd);
    free(c->order);
    free(c->attempts);
    ns_tls_config_unref(c->config);
    free(c);
    s->connecting = NULL;
    if (s->want_fd != s->fd)
        s->want = 0;
}

/* Fails the open: everything is closed, and the socket with it. */
static int fail_open(ns_socket *s, int status)
{
    ns_connecting_free(s);
    if (s->fd >= 0) {
        ns_tls_free(s);
        close(s->fd);
        s->fd = -1;
    }
    s->want = 0;
    return status;
}

/* The answer of the resolver: 1 in, 0 not yet, or a status. */
static int take_lookup(ns_socket *s, ns_connecting *c)
{
    uint64_t v;
    if (read(c->lk->efd, &v, sizeof v) != sizeof v)
        return 0;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    lookup *lk = c->lk;
    int rc = lk->rc == 0 ? NS_OK
                         : ns_resolve_failure(lk->rc, lk->err, "connect to", s->node, s->service);
    c->res = lk->res;
    lk->res = NULL;
    c->lk = NULL;
    lookup_unref(lk);
    return rc == NS_OK ? order_addresses(c) == NS_OK ? 1 : ns_last_status() : rc;
}

/* Watches fd, and on first use every attempt already pending, in the
 * epoll descriptor that gathers them; 0 or an errno. */
static int gather(ns_connecting *c, int fd)
{
    if (c->epfd < 0) {
        if ((c->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
            return errno;
        for (size_t i = 0; i < c->nattempts; i++) {
            int rc = gather(c, c->attempts[i].fd);
            if (rc != 0)
                return rc;
        }
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
    return epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : errno;
}

/* The pending attempts that are done: their fds into done[], at most max. */
static int finished(ns_connecting *c, int *done, int max)
{
    if (c->epfd >= 0) {
        struct epoll_event evs[16];
        int n = epoll_wait(c->epfd, evs, max < 16 ? max : 16, 0);
        for (int i = 0; i < n; i++)
            done[i] = evs[i].data.fd;
        return n > 0 ? n : 0;
    }
    if (c->nattempts == 0)
        return 0;
    struct pollfd p = {c->attempts[0].fd, POLLOUT, 0};
    done[0] = p.fd;
    return poll(&p, 1, 0) > 0;
}

/* Starts the next address.  1 if it connected at once (the fd in *won). */
static int start_attempt(ns_connecting *c, int *won)
{
    const struct addrinfo *ai = c->order[c->next++];
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    ai->ai_protocol);
    if (fd < 0) {
        ns_attempt_log_add(&c->log, ai, strerror(errno), errno);
        return 0;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        *won = fd;
        return 1;
    }
    int err = errno == EINPROGRESS || errno == EINTR ? 0 : errno;
    if (err == 0 && c->nattempts > 0)
        err = gather(c, fd);
    if (err != 0) {
        close(fd);
        ns_attempt_log_add(&c->log, ai, strerror(err), err);
        return 0;
    }
    c->attempts[c->nattempts++] = (attempt){fd, ai};
    c->next_at = ns_now_us() + ATTEMPT_DELAY_US;
    return 0;
}

/* Collects finished attempts: 1 with a winner in *won, else 0. */
static int check_attempts(ns_connecting *c, int *won)
{
    int done[16], n;
    while ((n = finished(c, done, 16)) > 0) {
        for (int i = 0; i < n; i++) {
            int fd = done[i], err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                err = errno;
            size_t k = 0;
            while (k < c->nattempts && c->attempts[k].fd != fd)
                k++;
            if (k == c->nattempts)
                continue;
            if (err == 0) {
                if (c->epfd >= 0)
                    epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
                c->attempts[k] = c->attempts[--c->nattempts];
                *won = fd;
                return 1;
            }
            ns_attempt_log_add(&c->log, c->attempts[k].ai, strerror(err), err);
            close_attempt(c, k);
        }
    }
    return 0;
}

static int would_block(ns_socket *s, ns_connecting *c, int64_t until)
{
    s->want = c->lk || c->epfd >= 0 ? NS_WANT_READ : NS_WANT_WRITE;
    s->want_fd = c->lk ? c->lk->efd : c->epfd >= 0 ? c->epfd : c->attempts[0].fd;
    s->want_deadline = until;
    return ns_fail_io(s, NS_ERR_WOULD_BLOCK, EAGAIN, "connect to",
                      c->lk ? "resolving the name (non-blocking)"
                            : "waiting for the connection (non-blocking)");
}

static int timed_out(ns_socket *s, ns_connecting *c)
{
    if (c->lk)
        return ns_fail(NS_ERR_CONNECT_TIMEOUT, ETIMEDOUT,
                       "connect to %s timed out after %lld us while resolving the name",
                       s->peer_label, (long long)c->values.connection_timeout);
    for (size_t i = 0; i < c->nattempts; i++)
        ns_attempt_log_add(&c->log, c->attempts[i].ai, "timed out", ETIMEDOUT);
    return ns_fail(NS_ERR_CONNECT_TIMEOUT, ETIMEDOUT, "connect to %s timed out after %lld us (%s)",
                   s->peer_label, (long long)c->values.connection_timeout, c->log.text);
}

/* Phases 1 and 2: NS_OK once connected (s->fd set), else a status. */
static int progress_connect(ns_socket *s, ns_connecting *c)
{
    if (c->lk) {
        int r = take_lookup(s, c);
        if (r < 0)
            return r;
        if (r == 0)
            return c->deadline >= 0 && ns_now_us() >= c->deadline ? timed_out(s, c)
                                                                  : would_block(s, c, c->deadline);
    }
    int won = -1;
    for (;;) {
        if (check_attempts(c, &won))
            break;
        int64_t now = ns_now_us();
        if (c->deadline >= 0 && now >= c->deadline)
            return timed_out(s, c);
        int more = c->next < c->naddr;
        if (more && (c->nattempts == 0 || now >= c->next_at)) {
            if (start_attempt(c, &won))
                break;
            continue;
        }
        if (c->nattempts == 0)
            return ns_fail(NS_ERR_CONNECT, c->log.last_errno, "connect to %s failed: %s",
                           s->peer_label, c->log.used ? c->log.text : "no address");
        int64_t until = c->deadline;
        if (more && (until < 0 || c->next_at < until))
            until = c->next_at;
        return would_block(s, c, until);
    }
    while (c->nattempts > 0) /* the others lose */
        close_attempt(c, 0);
    s->fd = won;
    return NS_OK;
}

int ns_socket_connect_continue(ns_socket *s)
{
    if (s == NULL)
        return ns_fail(NS_ERR_INVALID, 0, "connect continue: NULL socket");
    ns_connecting *c = s->connecting;
    if (c == NULL)
        return s->fd >= 0 ? NS_OK : ns_check_open(s, "connect continue with");
    s->want = 0;
    s->want_deadline = -1;
    int rc = NS_OK;
    if (!c->handshaking) {
        if ((rc = progress_connect(s, c)) != NS_OK)
            return rc == NS_ERR_WOULD_BLOCK ? rc : fail_open(s, rc);
        c->handshaking = 1;
        if (c->tls && (rc = ns_tls_client_start(s, c->config, s->node)) != NS_OK)
            return fail_open(s, rc);
    }
    if (c->tls && c->values.handshake) {
        rc = ns_tls_handshake(s, c->deadline, c->values.connection_timeout, 1,
                              NS_ERR_CONNECT_TIMEOUT);
        if (rc == NS_ERR_WOULD_BLOCK)
            return rc;
        if (rc != NS_OK)
            return fail_open(s, rc);
    }
    if (c->tls)
        s->ignore_unexpected_eof = c->values.ignore_unexpected_eof != 0;
    ns_options values = c->values;
    ns_connecting_free(s);
    rc = ns_socket_apply_options(s, &values);
    return rc == NS_OK ? NS_OK : fail_open(s, rc);
}

/* 1 if node is an address getaddrinfo takes as numeric (inet_aton's forms
 * such as 127.1 included): resolving it cannot block. */
static int is_numeric(const char *node)
{
    struct in6_addr a6;
    struct in_addr a4;
    return inet_pton(AF_INET6, node, &a6) == 1 || inet_aton(node, &a4) != 0;
}

/* Numeric addresses resolve at once; names go to the resolver thread,
 * unless the caller blocks without a deadline and without an interrupt
 * anyway (a blocking constructor with no connection timeout, on a thread
 * without ns_set_thread_interrupt): then a thread buys nothing.  With an
 * interrupt, the wait for the resolver ends on it (ns_connect_drive), so
 * Ctrl-C or Thread#kill stop a name that never resolves. */
static int begin_resolving(ns_socket *s, ns_connecting *c, int blocking)
{
    struct addrinfo hints = {
        .ai_family = c->values.ai_family,
        .ai_socktype = c->values.ai_socktype,
        .ai_protocol = c->values.ai_protocol,
        .ai_flags = c->values.ai_flags,
    };
    if (!is_numeric(s->node) && !(blocking && c->deadline < 0 && !ns_interruptible()))
        return start_lookup(c, s->node, s->service, &hints);
    int rc = getaddrinfo(s->node, s->service, &hints, &c->res);
    if (rc == 0)
        return order_addresses(c);
    c->res = NULL;
    return ns_resolve_failure(rc, errno, "connect to", s->node, s->service);
}

ns_socket *ns_socket_connect_start(const ns_options *o, const char *node, const char *service)
{
    if (o == NULL) {
        ns_fail(NS_ERR_INVALID, 0, "connect start: NULL options");
        return NULL;
    }
    return ns_connect_begin(o, node, service, ns_options_is_tls(o), 0);
}

ns_socket *ns_connect_begin(const ns_options *o, const char *node, const char *service, int tls,
                            int blocking)
{
    if (node == NULL || service == NULL) {
        ns_fail(NS_ERR_INVALID, 0, "connect: node and service are required");
        return NULL;
    }
    ns_options *owned = NULL;
    const ns_options *opts = ns_options_for(o, tls ? NS_TLS_SOCKET_OPTIONS : NS_SOCKET_OPTIONS,
                                            &owned);
    if (opts == NULL)
        return NULL;
    ns_connecting *c = calloc(1, sizeof *c);
    ns_socket *s = c ? ns_socket_alloc(-1, NS_ROLE_CLIENT, node, service) : NULL;
    int rc = s ? NS_OK : ns_fail(NS_ERR_NOMEM, ENOMEM, "connect to %s:%s: out of memory", node,
                                 service);
    if (s) {
        s->connecting = c;
        c->epfd = -1;
        c->tls = tls;
        rc = ns_options_snapshot(opts, tls, 0, &c->values, &c->config);
    }
    ns_options_free(owned);
    if (rc == NS_OK && (c->values.ai_flags & AI_PASSIVE))
        rc = ns_fail(NS_ERR_INVALID, 0,
                     "connect to %s:%s: AI_PASSIVE is for servers, not client sockets", node,
                     service);
    if (rc == NS_OK)
        rc = ns_check_service("connect to", node, service);
    if (rc == NS_OK) {
        c->deadline = ns_deadline_after(c->values.connection_timeout);
        rc = begin_resolving(s, c, blocking);
    }
    if (rc != NS_OK) {
        if (s)
            ns_socket_free(s);
        else
            free(c);
        return NULL;
    }
    return s;
}

int ns_connect_drive(ns_socket *s)
{
    for (;;) {
        int rc = ns_socket_connect_continue(s);
        if (rc != NS_ERR_WOULD_BLOCK)
            return rc;
        int ready = ns_poll_fd(s->want_fd, s->want == NS_WANT_WRITE ? POLLOUT : POLLIN,
                               s->want_deadline);
        /* The thread's interrupt (ns_set_thread_interrupt) stays readable:
         * stop here, or the loop would spin on it. */
        if (ready == -EINTR)
            return ns_fail(NS_ERR_IO, EINTR, "connect to %s:%s: interrupted",
                           ns_socket_node(s), ns_socket_service(s));
    }
}

int ns_socket_start_tls(ns_socket *s, const ns_options *o)
{
    int rc = ns_check_open(s, "start TLS on");
    if (rc != NS_OK)
        return rc;
    if (s->ssl || s->ctx)
        return ns_fail_io(s, NS_ERR_INVALID, 0, "start TLS on", "already a TLS socket");
    if (s->role == NS_ROLE_SERVER)
        return ns_fail_io(s, NS_ERR_INVALID, 0, "start TLS on", "a listening socket has no peer");
    if (!ns_options_is_tls(o))
        return ns_fail_io(s, NS_ERR_INVALID, 0, "start TLS on",
                          o ? "the options are not TLS options" : "NULL options");
    int server = ns_options_is_server_tls(o);
    ns_options values;
    ns_tls_config *c = NULL;
    if ((rc = ns_options_snapshot(o, 1, server, &values, &c)) != NS_OK)
        return rc;
    if (!server && c->sni == NULL && s->node == NULL) {
        ns_tls_config_unref(c);
        return ns_fail_io(s, NS_ERR_INVALID, 0, "start TLS on",
                          "no name to check the server against: add one with sni");
    }
    ns_socket_begin_call(s);
    rc = server ? ns_tls_upgrade_server(s, c) : ns_tls_client_start(s, c, s->node);
    ns_tls_config_unref(c);
    if (rc == NS_OK)
        s->ignore_unexpected_eof = values.ignore_unexpected_eof != 0;
    if (rc == NS_OK)
        rc = ns_socket_sync_fd(s);
    if (rc != NS_OK) {
        ns_tls_free(s);
        ns_socket_sync_fd(s);
        return rc;
    }
    return values.handshake ? ns_tls_resume_handshake(s) : NS_OK;
}
