/* Fuzz target: netsocket's own receive logic (MSG_PEEK, MSG_WAITALL,
 * MSG_DONTWAIT, blocking and non-blocking, plain and TLS: the read-ahead
 * BIO, records split across reads) checked against a model of the stream.
 *
 * Input: a mode byte (bit 0 non-blocking receiver, bit 1 TLS), then ops of
 * two bytes: the peer sends n bytes (once they are in the receiver's
 * queue, the op is done), or the receiver calls recv with n bytes and
 * flags.  The peer's bytes are a known sequence.  Each recv must return
 * exactly what the model says: with nothing to read, NS_ERR_WOULD_BLOCK
 * (non-blocking or MSG_DONTWAIT) or NS_ERR_READ_TIMEOUT (1 ms); else the
 * next bytes of the stream (a peek consumes none), as many as asked or
 * available, where for TLS "available" ends with the record being read
 * (one per send; TLS ignores MSG_WAITALL), and MSG_WAITALL on a blocking
 * plain socket returns what there is when the timeout strikes.  Anything
 * else aborts: the bug "MSG_PEEK|MSG_WAITALL returns abcabcabc" is such a
 * case. */
#include "fuzz_common.h"

#define MAX_OPS 48

static ns_socket *servers[2];

static void servers_free(void)
{
    ns_socket_free(servers[0]);
    ns_socket_free(servers[1]);
}

static ns_socket *server(int tls)
{
    if (servers[tls])
        return servers[tls];
    fuzz_certs();
    ns_options *o = ns_options_new(tls ? NS_SERVER_TLS_SOCKET_OPTIONS : NS_SOCKET_OPTIONS);
    if (tls) {
        const char *crt = certgen_cert_pem(fuzz_leaf), *key = certgen_key_pem(fuzz_leaf);
        ns_options_add_certificate(o, crt, strlen(crt));
        ns_options_set_private_key(o, key, strlen(key));
    }
    ns_options_set_non_blocking(o, 0);
    ns_options_set_read_timeout(o, 2000000);
    if (tls)
        ns_options_set_handshake(o, 0); /* both ends in one thread: see handshake() */
    servers[tls] = tls ? ns_make_server_tls_socket("127.0.0.1", "0", o)
                       : ns_make_server_socket("127.0.0.1", "0", o);
    ns_options_free(o);
    if (servers[tls] == NULL)
        abort();
    if (servers[0] == NULL || servers[1] == NULL)
        atexit(servers_free);
    return servers[tls];
}

static uint8_t stream_byte(size_t i) { return (uint8_t)(i % 251); }

static ns_socket *client(int tls, int non_blocking)
{
    ns_options *o = ns_options_new(tls ? NS_TLS_SOCKET_OPTIONS : NS_SOCKET_OPTIONS);
    if (tls) {
        const char *ca = certgen_cert_pem(fuzz_ca);
        ns_options_add_trusted_certificate(o, ca, strlen(ca));
    }
    ns_options_set_non_blocking(o, 0);
    /* The read timeout bounds the handshake too: the recv timeout is set
     * after it (with 1 ms from the start, a handshake slowed by the leak
     * check's malloc tracing timed out now and then). */
    ns_options_set_read_timeout(o, 2000000);
    ns_options_set_connection_timeout(o, 2000000);
    if (tls)
        ns_options_set_handshake(o, 0);
    char port[16];
    snprintf(port, sizeof port, "%d", ns_socket_local_port(server(tls)));
    ns_socket *c = tls ? ns_make_client_tls_socket("127.0.0.1", port, o)
                       : ns_make_client_socket("127.0.0.1", port, o);
    ns_options_free(o);
    if (c && non_blocking)
        ns_socket_set_non_blocking(c, 1);
    return c;
}

/* Both handshakes, stepped alternately in non-blocking mode (bounded). */
static int handshake(ns_socket *a, ns_socket *b)
{
    ns_socket_set_non_blocking(a, 1);
    ns_socket_set_non_blocking(b, 1);
    int done_a = 0, done_b = 0;
    for (int round = 0; round < 2000 && !(done_a && done_b); round++) {
        int ra = done_a ? NS_OK : ns_socket_handshake(a);
        int rb = done_b ? NS_OK : ns_socket_handshake(b);
        if ((ra != NS_OK && ra != NS_ERR_WOULD_BLOCK) || (rb != NS_OK && rb != NS_ERR_WOULD_BLOCK))
            return -1;
        done_a = ra == NS_OK;
        done_b = rb == NS_OK;
        if (!(done_a && done_b) && round > 20)
            usleep(100);
    }
    ns_socket_set_non_blocking(b, 0);
    return done_a && done_b ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int non_blocking = data[0] & 1, tls = (data[0] >> 1) & 1;
    ns_socket *srv = server(tls);
    ns_socket *c = client(tls, non_blocking);
    if (c == NULL) {
        fprintf(stderr, "fuzz_recv: the client failed: %s\n", ns_last_error());
        abort();
    }
    ns_socket *peer = ns_socket_accept(srv);
    if (peer == NULL || (tls && handshake(c, peer) != 0)) {
        fprintf(stderr, "fuzz_recv: the connection failed: %s\n", ns_last_error());
        abort();
    }
    ns_socket_set_non_blocking(c, non_blocking);
    ns_socket_set_read_timeout(c, 1000); /* a recv that must wait ends soon */
    fuzz_no_delay(ns_socket_fd(peer));
    size_t sent = 0, consumed = 0;
    size_t records[MAX_OPS], nrecords = 0, record = 0, offset = 0; /* TLS: sizes, position */
    uint8_t out[256], in[256];
    for (size_t i = 1, ops = 0; i + 1 < size && ops < MAX_OPS; i += 2, ops++) {
        uint8_t op = data[i];
        size_t n = (size_t)data[i + 1] + 1;
        if ((op & 3) == 0) { /* the peer sends n bytes */
            for (size_t k = 0; k < n; k++)
                out[k] = stream_byte(sent + k);
            if (ns_socket_send_all(peer, out, n, 0) != (ssize_t)n)
                abort();
            fuzz_arrived(ns_socket_fd(peer), ns_socket_fd(c));
            sent += n;
            records[nrecords++] = n;
            continue;
        }
        static const int flag_sets[8] = {0, MSG_PEEK, MSG_WAITALL, MSG_DONTWAIT,
                                         MSG_PEEK | MSG_WAITALL, MSG_PEEK | MSG_DONTWAIT,
                                         MSG_WAITALL | MSG_DONTWAIT,
                                         MSG_PEEK | MSG_WAITALL | MSG_DONTWAIT};
        int flags = flag_sets[(op >> 2) & 7];
        size_t avail = sent == consumed ? 0 : tls ? records[record] - offset : sent - consumed;
        ssize_t want = (ssize_t)(n < avail ? n : avail);
        if (avail == 0) /* nothing to read: how the recv says so */
            want = non_blocking || (flags & MSG_DONTWAIT) ? NS_ERR_WOULD_BLOCK : NS_ERR_READ_TIMEOUT;
        ssize_t got = ns_socket_recv(c, in, n, flags);
        if (got < 0 && got == want)
            continue;
        if (got != want) {
            fprintf(stderr, "fuzz_recv: recv %zu (flags %#x, %s, %s): %zd, expected %zd: %s\n", n,
                    flags, tls ? "TLS" : "plain", non_blocking ? "non-blocking" : "blocking", got,
                    want, got < 0 ? ns_last_error() : "");
            abort();
        }
        for (ssize_t k = 0; k < got; k++)
            if (in[k] != stream_byte(consumed + (size_t)k))
                abort(); /* a byte out of place: repeated, skipped or lost */
        if (flags & MSG_PEEK)
            continue;
        consumed += (size_t)got;
        if (tls && (offset += (size_t)got) == records[record]) {
            record++;
            offset = 0;
        }
    }
    ns_socket_free(peer);
    ns_socket_free(c);
    return 0;
}
