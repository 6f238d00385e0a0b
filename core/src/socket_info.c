/* Socket state and queries: modes, timeouts, names, addresses, sockopts. */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

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
