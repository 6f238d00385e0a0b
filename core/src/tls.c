/* TLS sockets: handshake, I/O with timeouts and non-blocking mode,
 * close_notify, mapping BoringSSL's failures to statuses, and the queries
 * about the leaf certificate and the negotiated parameters (the whole
 * chain and the key-exchange group: tls_info.c). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "internal.h"

/* Describes the pending BoringSSL error (an alert received, or a reason)
 * and empties the queue; returns 1 if an allocation failed. */
static int describe_ssl_error(char *msg, size_t len)
{
    int oom;
    uint32_t e = ns_ssl_take_errors(&oom);
    int reason = ERR_GET_REASON(e);
    if (oom)
        snprintf(msg, len, "out of memory");
    else if (e == 0)
        snprintf(msg, len, "protocol error");
    else if (ERR_GET_LIB(e) == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET)
        snprintf(msg, len, "the peer sent the alert %s (%d)",
                 ns_tls_alert_name(reason - SSL_AD_REASON_OFFSET), reason - SSL_AD_REASON_OFFSET);
    else
        snprintf(msg, len, "%s", ERR_reason_error_string(e) ? ERR_reason_error_string(e)
                                                            : "unknown error");
    return oom;
}

/*
 * Maps a failed SSL call to a status.  Returns 1 when the caller should
 * wait for `*events` and retry, else a (negative) status already recorded.
 */
static int classify(ns_socket *s, int ret, const char *what, short *events)
{
    int saved_errno = errno; /* before anything else can change it */
    int err = SSL_get_error(s->ssl, ret);
    char msg[384];
    switch (err) {
    case SSL_ERROR_WANT_READ:
        *events = POLLIN;
        return 1;
    case SSL_ERROR_WANT_WRITE:
        *events = POLLOUT;
        return 1;
    case SSL_ERROR_ZERO_RETURN:
        return ns_fail_io(s, NS_ERR_CLOSED, 0, what, "the peer closed the TLS connection");
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (ret == 0 || saved_errno == 0)
            return ns_fail_io(s, NS_ERR_CLOSED, 0, what,
                              "the peer closed the connection without close_notify (what was "
                              "received may be truncated; the option ignore-unexpected-eof? "
                              "accepts this as the end of the stream)");
        return ns_fail_io(s, ns_status_from_errno(saved_errno), saved_errno, what,
                          strerror(saved_errno));
    case SSL_ERROR_SSL: {
        int status = s->handshake_done ? NS_OK : ns_verify_failure_status(s, msg, sizeof msg);
        if (status != NS_OK) {
            ERR_clear_error();
            return ns_fail_io(s, status, 0, what, msg);
        }
        uint32_t e = ERR_peek_error();
        if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
            ERR_GET_REASON(e) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
            ERR_clear_error();
            return ns_fail_io(s, NS_ERR_CERTIFICATE, 0, what,
                              "the client sent no certificate, but one is required");
        }
        if (ns_tls_describe_not_tls(s, e, msg, sizeof msg)) {
            ERR_clear_error();
            return ns_fail_io(s, NS_ERR_TLS, 0, what, msg);
        }
        if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_ECH_REJECTED) {
            ERR_clear_error();
            return ns_fail_io(s, ns_ech_rejected(s, msg, sizeof msg), 0, what, msg);
        }
        int oom = describe_ssl_error(msg, sizeof msg);
        return ns_fail_io(s, oom ? NS_ERR_NOMEM : NS_ERR_TLS, oom ? ENOMEM : 0, what, msg);
    }
    default:
        ERR_clear_error();
        snprintf(msg, sizeof msg, "TLS error %d", err);
        return ns_fail_io(s, NS_ERR_TLS, 0, what, msg);
    }
}

static int timed_out(ns_socket *s, int64_t budget, int timeout_status, const char *what)
{
    char msg[64];
    snprintf(msg, sizeof msg, "timed out after %lld us", (long long)budget);
    return ns_fail_io(s, timeout_status, ETIMEDOUT, what, msg);
}

/* Waits for the fd; a missed deadline is `timeout_status`. */
static int wait_for(ns_socket *s, short events, int64_t deadline, int64_t budget,
                    int timeout_status, const char *what)
{
    int r = ns_poll_fd(s->fd, events, deadline);
    if (r > 0)
        return NS_OK;
    if (r < 0)
        return ns_fail_io(s, ns_status_from_errno(-r), -r, what, strerror(-r));
    return timed_out(s, budget, timeout_status, what);
}

static int want_of(short events)
{
    return events == POLLOUT ? NS_WANT_WRITE : NS_WANT_READ;
}

static void after_handshake(ns_socket *s)
{
    const uint8_t *proto = NULL;
    unsigned len = 0;
    SSL_get0_alpn_selected(s->ssl, &proto, &len);
    if (proto && len < sizeof s->alpn) {
        memcpy(s->alpn, proto, len);
        s->alpn[len] = '\0';
    }
    s->handshake_done = 1;
}

/* The peer closed or reset the connection before the handshake finished
 * (classify recorded how): NS_ERR_TLS saying so, with the OS's reason. */
static int handshake_truncated(ns_socket *s)
{
    int err = ns_last_os_error();
    char cause[192];
    snprintf(cause, sizeof cause,
             "%s before the handshake finished (handshake truncated; does the %s speak TLS?)",
             err ? strerror(err) : "the peer closed the connection",
             s->role == NS_ROLE_CLIENT ? "server" : "client");
    return ns_fail_io(s, NS_ERR_TLS, err, "TLS handshake with", cause);
}

int ns_tls_handshake(ns_socket *s, int64_t deadline, int64_t budget, int nonblocking,
                     int timeout_status)
{
    for (;;) {
        ERR_clear_error();
        int ret = SSL_do_handshake(s->ssl);
        if (ret == 1) {
            int rc = SSL_session_reused(s->ssl) ? ns_verify_resumed(s) : NS_OK;
            if (rc != NS_OK) {
                SSL_send_fatal_alert(s->ssl, SSL_AD_BAD_CERTIFICATE);
                return rc;
            }
            after_handshake(s);
            return NS_OK;
        }
        short events = 0;
        int rc = classify(s, ret, "TLS handshake with", &events);
        if (rc == NS_ERR_CLOSED)
            return handshake_truncated(s);
        if (rc != 1)
            return rc;
        if (nonblocking) {
            if (deadline >= 0 && ns_now_us() >= deadline)
                return timed_out(s, budget, timeout_status, "TLS handshake with");
            return ns_would_block(s, want_of(events), deadline, "TLS handshake with",
                                  "waiting for the peer (non-blocking)");
        }
        rc = wait_for(s, events, deadline, budget, timeout_status, "TLS handshake with");
        if (rc != NS_OK)
            return rc;
    }
}

void ns_tls_start_handshake_clock(ns_socket *s)
{
    if (s->handshake_started)
        return;
    s->handshake_started = 1;
    s->handshake_budget = s->read_timeout;
    if (s->handshake_budget < 0 && s->role == NS_ROLE_ACCEPTED)
        s->handshake_budget = NS_ACCEPT_HANDSHAKE_TIMEOUT;
    s->handshake_deadline = ns_deadline_after(s->handshake_budget);
}

int ns_tls_resume_handshake(ns_socket *s)
{
    if (s->handshake_done)
        return NS_OK;
    ns_tls_start_handshake_clock(s);
    return ns_tls_handshake(s, s->handshake_deadline, s->handshake_budget, s->non_blocking,
                            NS_ERR_READ_TIMEOUT);
}

/* The handshake before a send.  One that waits (a blocking socket, or
 * send_all) does so even on a non-blocking socket, bounded by the earlier
 * of the handshake's deadline and the write timeout's. */
static int handshake_for_send(ns_socket *s, int wait, int64_t deadline)
{
    if (s->handshake_done || !wait)
        return ns_tls_resume_handshake(s);
    ns_tls_start_handshake_clock(s);
    if (deadline >= 0 && (s->handshake_deadline < 0 || deadline < s->handshake_deadline))
        return ns_tls_handshake(s, deadline, s->write_timeout, 0, NS_ERR_WRITE_TIMEOUT);
    return ns_tls_handshake(s, s->handshake_deadline, s->handshake_budget, 0,
                            NS_ERR_READ_TIMEOUT);
}

/*
 * After SSL_write wanted to wait, BoringSSL keeps the record it already
 * encrypted from the first bytes of buf, and the retry sends that record
 * whatever bytes it is given.  So remember those bytes, and refuse a retry
 * that passes others (or fewer) instead of sending the wrong data.
 */
#define NS_TLS_RECORD_MAX 16384

static void remember_unsent(ns_socket *s, const void *buf, size_t len)
{
    size_t n = len < NS_TLS_RECORD_MAX ? len : NS_TLS_RECORD_MAX;
    if (s->unsent == NULL)
        s->unsent = malloc(NS_TLS_RECORD_MAX); /* no memory: no check */
    if (s->unsent)
        memcpy(s->unsent, buf, n);
    s->unsent_len = s->unsent ? n : 0;
}

static int check_retry(ns_socket *s, const void *buf, size_t len)
{
    if (s->unsent_len == 0 || (len >= s->unsent_len && memcmp(buf, s->unsent, s->unsent_len) == 0))
        return NS_OK;
    char msg[200];
    snprintf(msg, sizeof msg,
             "retried after NS_ERR_WOULD_BLOCK with other bytes; the first %zu bytes of the "
             "earlier call are already encrypted: pass them again",
             s->unsent_len);
    return ns_fail_io(s, NS_ERR_INVALID, 0, "TLS send to", msg);
}

static void forget_unsent(ns_socket *s)
{
    free(s->unsent);
    s->unsent = NULL;
    s->unsent_len = 0;
}

ssize_t ns_tls_send(ns_socket *s, const void *buf, size_t len, int wait, int64_t deadline)
{
    /* As with plain sockets after SHUT_WR (EPIPE): the write side is gone. */
    if (s->sent_close_notify)
        return ns_fail_io(s, NS_ERR_CLOSED, EPIPE, "TLS send to",
                          "the write side was shut down (close_notify sent)");
    int rc = handshake_for_send(s, wait, deadline);
    if (rc != NS_OK)
        return rc;
    if (len == 0)
        return 0;
    if ((rc = check_retry(s, buf, len)) != NS_OK)
        return rc;
    int chunk = len > INT_MAX ? INT_MAX : (int)len;
    for (;;) {
        ERR_clear_error();
        int n = SSL_write(s->ssl, buf, chunk);
        if (n > 0) {
            forget_unsent(s);
            s->sent_since_recv = 1;
            return n;
        }
        short events = 0;
        rc = classify(s, n, "TLS send to", &events);
        if (rc != 1)
            return rc;
        if (!wait) {
            remember_unsent(s, buf, (size_t)chunk);
            return ns_would_block(s, want_of(events), deadline, "TLS send to",
                                  "the socket buffer is full (non-blocking)");
        }
        rc = wait_for(s, events, deadline, s->write_timeout, NS_ERR_WRITE_TIMEOUT, "TLS send to");
        if (rc != NS_OK) {
            remember_unsent(s, buf, (size_t)chunk);
            return rc;
        }
    }
}

int ns_tls_readable_now(const ns_socket *s)
{
    if (s->ssl == NULL || s->fd < 0)
        return 0;
    return SSL_pending(s->ssl) > 0 || ns_bio_whole_record(SSL_get_rbio(s->ssl));
}

/*
 * A TLS descriptor stays O_NONBLOCK, so a blocking recv that must wait
 * costs recv (EAGAIN) + poll + recv.  Right after a send (request/response)
 * the answer is rarely there yet, so such a recv polls first and saves the
 * failed recv; streams being received read first.  Measured by tests/bench.
 */
static int should_wait_first(ns_socket *s)
{
    int hint = s->sent_since_recv;
    s->sent_since_recv = 0;
    return hint && !s->non_blocking;
}

ssize_t ns_tls_recv(ns_socket *s, void *buf, size_t len, int flags)
{
    int rc = ns_tls_resume_handshake(s);
    if (rc != NS_OK)
        return rc;
    if (len == 0)
        return 0;
    int64_t deadline = ns_deadline_after(s->read_timeout);
    int chunk = len > INT_MAX ? INT_MAX : (int)len;
    /* Right after a send, poll before reading unless bytes are already
     * buffered (should_wait_first). */
    if (should_wait_first(s) && !(flags & MSG_DONTWAIT) && !ns_tls_readable_now(s)) {
        rc = wait_for(s, POLLIN, deadline, s->read_timeout, NS_ERR_READ_TIMEOUT, "TLS recv from");
        if (rc != NS_OK)
            return rc;
    }
    for (;;) {
        ERR_clear_error();
        int n = (flags & MSG_PEEK) ? SSL_peek(s->ssl, buf, chunk) : SSL_read(s->ssl, buf, chunk);
        if (n > 0)
            return n;
        int saved_errno = errno;
        int err = SSL_get_error(s->ssl, n);
        if (err == SSL_ERROR_ZERO_RETURN)
            return 0; /* close_notify: orderly end of stream */
        if (err == SSL_ERROR_SYSCALL && s->ignore_unexpected_eof && (n == 0 || saved_errno == 0)) {
            ERR_clear_error();
            return 0; /* no close_notify, accepted as the end (opt-in) */
        }
        errno = saved_errno;
        short events = 0;
        rc = classify(s, n, "TLS recv from", &events);
        if (rc != 1)
            return rc;
        if (s->non_blocking || (flags & MSG_DONTWAIT))
            return ns_would_block(s, want_of(events), deadline, "TLS recv from",
                                  s->non_blocking ? "no data yet (non-blocking)"
                                                  : "no data yet (MSG_DONTWAIT)");
        rc = wait_for(s, events, deadline, s->read_timeout, NS_ERR_READ_TIMEOUT, "TLS recv from");
        if (rc != NS_OK)
            return rc;
    }
}

int ns_tls_shutdown_write(ns_socket *s)
{
    if (s->ssl == NULL || !s->handshake_done || s->sent_close_notify)
        return NS_OK;
    s->sent_close_notify = 1;
    ERR_clear_error();
    /* close_notify is one small record: if the buffer is full, give the
     * peer a moment, but never block a close for long. */
    for (int tries = 0; tries < 2; tries++) {
        int r = SSL_shutdown(s->ssl);
        if (r >= 0)
            return NS_OK;
        if (SSL_get_error(s->ssl, r) != SSL_ERROR_WANT_WRITE)
            break;
        ns_poll_fd(s->fd, POLLOUT, ns_deadline_after(100000));
    }
    ERR_clear_error();
    return NS_OK;
}

void ns_tls_free(ns_socket *s)
{
    SSL_free(s->ssl);
    SSL_CTX_free(s->ctx);
    ns_verifier_unref(s->verifier);
    ns_tls_config_unref(s->tls_config);
    ns_key_log_unref(s->key_log);
    free(s->ech_retry);
    ns_identity_set_unref(s->identities);
    OPENSSL_free(s->peer_der);
    free(s->session_key);
    SSL_SESSION_free(s->last_session);
    s->session_key = NULL;
    s->last_session = NULL;
    forget_unsent(s);
    s->ssl = NULL;
    s->ctx = NULL;
    s->verifier = NULL;
    s->tls_config = NULL;
    s->key_log = NULL;
    s->ech_retry = NULL;
    s->identities = NULL;
    s->peer_der = NULL;
}

/* ---- queries ---- */

static SSL *established(const ns_socket *s)
{
    return s && s->ssl && s->handshake_done ? s->ssl : NULL;
}

const unsigned char *ns_socket_peer_certificate(ns_socket *s, size_t *der_len)
{
    if (der_len)
        *der_len = 0;
    SSL *ssl = established(s);
    if (ssl == NULL)
        return NULL;
    if (s->peer_der == NULL) {
        X509 *peer = SSL_get_peer_certificate(ssl);
        int n = peer ? i2d_X509(peer, &s->peer_der) : -1;
        X509_free(peer);
        if (n <= 0) {
            s->peer_der = NULL;
            return NULL;
        }
        s->peer_der_len = (size_t)n;
    }
    if (der_len)
        *der_len = s->peer_der_len;
    return s->peer_der;
}

const char *ns_socket_selected_alpn(const ns_socket *s)
{
    return established(s) && s->alpn[0] ? s->alpn : NULL;
}

const char *ns_socket_server_name(const ns_socket *s)
{
    SSL *ssl = established(s);
    return ssl && s->role == NS_ROLE_ACCEPTED ? SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)
                                              : NULL;
}

const char *ns_socket_tls_version(const ns_socket *s)
{
    SSL *ssl = established(s);
    return ssl ? SSL_get_version(ssl) : NULL;
}

const char *ns_socket_tls_cipher(const ns_socket *s)
{
    SSL *ssl = established(s);
    const SSL_CIPHER *c = ssl ? SSL_get_current_cipher(ssl) : NULL;
    return c ? SSL_CIPHER_standard_name(c) : NULL;
}

int ns_socket_pending(const ns_socket *s)
{
    SSL *ssl = established(s);
    return ssl ? SSL_pending(ssl) : 0;
}
