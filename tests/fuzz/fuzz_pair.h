/* Shared by the record and selector fuzz targets: a netsocket TLS client
 * and server in one thread, joined by a relay that passes the client's
 * bytes on at once and holds the server's until the fuzz input says how
 * many to pass (any fragmentation of the records, at any time), and a model
 * of what the client can read: the server sends records of known sizes and
 * bytes, and the relay frames them, so it knows which ones the client has
 * whole.  Without session tickets (the server issues none) every record
 * after the handshake is application data.  Connections are loopback TCP;
 * every write is waited for until it sits in the peer's receive queue
 * (fuzz_arrived), and a run sends at most PAIR_STREAM_MAX bytes, so that
 * all of it fits there while the client reads nothing. */
#ifndef NS_FUZZ_PAIR_H
#define NS_FUZZ_PAIR_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>

#include "fuzz_common.h"

#define PAIR_MAX_RECORDS 64
#define PAIR_STREAM_MAX 32768
#define PAIR_HOLD_MAX (PAIR_STREAM_MAX + PAIR_MAX_RECORDS * 64) /* + record overhead */

typedef struct {
    ns_socket *client, *conn; /* conn: the server's end */
    int down, up;             /* the relay's ends: to the client, to the server */
    /* The server's stream after the handshake, by offset: passed down to
     * the client up to `passed`; held from there to `received`. */
    uint8_t held[PAIR_HOLD_MAX];
    size_t passed, received, framed; /* framed: where the next record starts */
    size_t ends[PAIR_MAX_RECORDS], sizes[PAIR_MAX_RECORDS]; /* per record */
    size_t records, sent_bytes;
    size_t read_record, read_offset, read_bytes; /* the client's next byte */
} tls_pair;

static ns_socket *pair_server;
static int pair_listener = -1, pair_listen_port;

static void pair_server_free(void)
{
    ns_socket_free(pair_server);
    close(pair_listener);
}

static uint8_t pair_byte(size_t i) { return (uint8_t)(i * 7 + i / 251); }

/* Reads what fd holds now (non-blocking) into buf; returns the count. */
static size_t pair_drain(int fd, uint8_t *buf, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        ssize_t n = recv(fd, buf + got, cap - got, MSG_DONTWAIT);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

/* Writes all of buf to fd (non-blocking), waiting for room (bounded). */
static void pair_send_raw(int fd, int peer, const uint8_t *buf, size_t len)
{
    for (int tries = 0; len > 0; tries++) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN)
            abort();
        if (n < 0 || (size_t)n < len) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            if (tries > 1000 || poll(&pf, 1, 2000) != 1)
                abort(); /* the peer's queue holds a whole run: room comes */
        }
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        }
    }
    fuzz_arrived(fd, peer);
}

static void pair_setup(void)
{
    if (pair_server)
        return;
    fuzz_certs();
    ns_options *o = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    const char *crt = certgen_cert_pem(fuzz_leaf), *key = certgen_key_pem(fuzz_leaf);
    ns_options_add_certificate(o, crt, strlen(crt));
    ns_options_set_private_key(o, key, strlen(key));
    ns_options_set_session_resumption(o, 0); /* no tickets: see above */
    ns_options_set_handshake(o, 0);          /* driven here, see pair_open */
    ns_options_set_read_timeout(o, 2000000);
    pair_server = ns_make_server_tls_socket("127.0.0.1", "0", o);
    ns_options_free(o);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    pair_listener = socket(AF_INET, SOCK_STREAM, 0);
    if (pair_server == NULL || pair_listener < 0 ||
        bind(pair_listener, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(pair_listener, 4) != 0 ||
        getsockname(pair_listener, (struct sockaddr *)&a, &len) != 0)
        abort();
    pair_listen_port = ntohs(a.sin_port);
    atexit(pair_server_free);
}

/* Passes the client's bytes up (all) and receives the server's. */
static void pair_pump(tls_pair *p)
{
    uint8_t buf[16384];
    fuzz_arrived(ns_socket_fd(p->client), p->down);
    pair_send_raw(p->up, ns_socket_fd(p->conn), buf, pair_drain(p->down, buf, sizeof buf));
    fuzz_arrived(ns_socket_fd(p->conn), p->up);
    size_t held = p->received - p->passed;
    p->received += pair_drain(p->up, p->held + held, sizeof p->held - held);
    /* Frames what arrived: one record per send (each well under 16 KiB). */
    while (p->framed >= p->passed && p->received - p->framed >= 5) {
        const uint8_t *h = p->held + (p->framed - p->passed);
        size_t end = p->framed + 5 + ((size_t)h[3] << 8 | h[4]);
        if (end > p->received)
            break;
        if (p->records >= PAIR_MAX_RECORDS)
            abort();
        p->ends[p->records++] = p->framed = end;
    }
}

/* Passes n held bytes down to the client (fewer if fewer are held). */
static void pair_pass(tls_pair *p, size_t n)
{
    size_t held = p->received - p->passed;
    n = n < held ? n : held;
    pair_send_raw(p->down, ns_socket_fd(p->client), p->held, n);
    memmove(p->held, p->held + n, held - n);
    p->passed += n;
}

/* Records the client has whole (passed down entirely). */
static size_t pair_whole(const tls_pair *p)
{
    size_t w = 0;
    while (w < p->records && p->ends[w] <= p->passed)
        w++;
    return w;
}

/* What a recv of n bytes must return now: the rest of the record being
 * read, at most n; 0 if no record is whole (the recv must wait). */
static size_t pair_expect(const tls_pair *p, size_t n)
{
    if (p->read_record >= pair_whole(p))
        return 0;
    size_t left = p->sizes[p->read_record] - p->read_offset;
    return left < n ? left : n;
}

/* Checks got bytes read at the client's position; consumes them unless
 * peeked.  Aborts on a byte out of place. */
static void pair_check_read(tls_pair *p, const uint8_t *buf, size_t got, int peek)
{
    for (size_t k = 0; k < got; k++)
        if (buf[k] != pair_byte(p->read_bytes + k))
            abort();
    if (peek)
        return;
    p->read_bytes += got;
    p->read_offset += got;
    if (p->read_offset == p->sizes[p->read_record]) {
        p->read_record++;
        p->read_offset = 0;
    }
}

/* The server sends one record of n bytes (the next of the stream); the
 * relay receives and frames it. */
static void pair_server_sends(tls_pair *p, size_t n)
{
    static uint8_t buf[8192];
    if (p->records >= PAIR_MAX_RECORDS || n > sizeof buf || p->sent_bytes + n > PAIR_STREAM_MAX)
        return;
    for (size_t k = 0; k < n; k++)
        buf[k] = pair_byte(p->sent_bytes + k);
    if (ns_socket_send_all(p->conn, buf, n, 0) != (ssize_t)n)
        abort();
    p->sizes[p->records] = n;
    p->sent_bytes += n;
    size_t before = p->records;
    pair_pump(p);
    if (p->records != before + 1)
        abort(); /* one send, one record: the model's assumption */
}

/* Runs a step of the input that is not a receive: op & 3 = 0, the server
 * sends n bytes; 1, the relay passes n bytes; 3, it passes everything.
 * Returns 0 for op & 3 = 2 (the client receives: the target's own step). */
static int pair_step(tls_pair *p, uint8_t op, size_t n)
{
    switch (op & 3) {
    case 0:
        pair_server_sends(p, n);
        return 1;
    case 1:
        pair_pass(p, n);
        return 1;
    case 3:
        pair_pass(p, p->received - p->passed);
        return 1;
    default:
        return 0;
    }
}

/* Connects and handshakes both ends in turns, everything passed at once;
 * then both are non-blocking and the stream offsets start at 0. */
static void pair_open(tls_pair *p, int client_blocking)
{
    pair_setup();
    memset(p, 0, sizeof *p);
    ns_options *o = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    const char *ca = certgen_cert_pem(fuzz_ca);
    ns_options_add_trusted_certificate(o, ca, strlen(ca));
    ns_options_set_handshake(o, 0);
    ns_options_set_non_blocking(o, 0); /* the connect completes here */
    ns_options_set_read_timeout(o, 2000000); /* bounds the handshake */
    ns_options_set_session_resumption(o, 0);
    char port[16];
    snprintf(port, sizeof port, "%d", pair_listen_port);
    p->client = ns_make_client_tls_socket("127.0.0.1", port, o);
    ns_options_free(o);
    p->down = p->client ? accept4(pair_listener, NULL, NULL, SOCK_NONBLOCK) : -1;
    p->up = raw_connect(ns_socket_local_port(pair_server));
    p->conn = p->up >= 0 ? ns_socket_accept(pair_server) : NULL;
    if (p->down < 0 || p->up < 0 || p->conn == NULL ||
        fcntl(p->up, F_SETFL, O_NONBLOCK) != 0) {
        fprintf(stderr, "fuzz pair: the connection failed: %s\n", ns_last_error());
        abort();
    }
    ns_socket_set_non_blocking(p->client, 1);
    ns_socket_set_non_blocking(p->conn, 1);
    fuzz_no_delay(ns_socket_fd(p->client));
    fuzz_no_delay(ns_socket_fd(p->conn));
    fuzz_no_delay(p->down);
    fuzz_no_delay(p->up);
    int done_c = 0, done_s = 0;
    for (int round = 0; round < 100 && !(done_c && done_s); round++) {
        int rc = ns_socket_handshake(p->client), rs;
        pair_pump(p);
        rs = ns_socket_handshake(p->conn);
        pair_pump(p);
        pair_pass(p, p->received - p->passed);
        if ((rc != NS_OK && rc != NS_ERR_WOULD_BLOCK) || (rs != NS_OK && rs != NS_ERR_WOULD_BLOCK)) {
            fprintf(stderr, "fuzz pair: the handshake failed: %s\n", ns_last_error());
            abort();
        }
        done_c = rc == NS_OK;
        done_s = rs == NS_OK;
    }
    if (!(done_c && done_s))
        abort(); /* nothing to wait for: each step had all the peer's bytes */
    p->passed = p->received = p->framed = p->records = 0;
    ns_socket_set_non_blocking(p->client, !client_blocking);
    ns_socket_set_read_timeout(p->client, 1000); /* a recv that waits ends soon */
}

static void pair_close(tls_pair *p)
{
    ns_socket_free(p->client);
    ns_socket_free(p->conn);
    raw_abort(p->down);
    raw_abort(p->up);
}

#endif
