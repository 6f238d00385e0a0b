/* Fuzz target: the read-ahead BIO and records split anywhere.  A netsocket
 * TLS server sends records of input-chosen sizes (1 B to 8 KiB: small ones
 * are read ahead, large ones bypass the buffer); the relay between it and
 * the client passes them on in input-chosen pieces at input-chosen times;
 * the client receives with input-chosen sizes and MSG_PEEK, MSG_WAITALL,
 * MSG_DONTWAIT, blocking (1 ms timeout) or not.  Each recv must return
 * exactly what the model says (fuzz_pair.h): the rest of the record being
 * read, at most the size asked (TLS ignores MSG_WAITALL), or, with no whole
 * record passed, NS_ERR_WOULD_BLOCK / NS_ERR_READ_TIMEOUT; bytes in order,
 * a peek consuming none.  At the end everything sent is read.
 *
 * Input: a mode byte (bit 0: the client blocks), then ops of two bytes,
 * op and argument a:  op & 3 = 0: the server sends a+1 bytes (times 32 if
 * op & 4);  1: the relay passes a+1 bytes (times 32 if op & 4);  2: the
 * client receives a+1 bytes (times 32 if op & 4) with flags (op >> 3) & 7
 * (bit 0 MSG_PEEK, 1 MSG_WAITALL, 2 MSG_DONTWAIT);  3: the relay passes
 * everything it holds. */
#include "fuzz_pair.h"

#define MAX_OPS 64

static tls_pair pair;

static void receive(tls_pair *p, size_t n, int flags, int blocking)
{
    static uint8_t buf[8192];
    size_t want = pair_expect(p, n);
    ssize_t got = ns_socket_recv(p->client, buf, n, flags);
    if (want == 0) {
        int waits = blocking && !(flags & MSG_DONTWAIT);
        if (got != (waits ? NS_ERR_READ_TIMEOUT : NS_ERR_WOULD_BLOCK)) {
            fprintf(stderr, "fuzz_records: recv %zu (flags %#x): %zd, expected no data: %s\n",
                    n, flags, got, ns_last_error());
            abort();
        }
        return;
    }
    if (got != (ssize_t)want) {
        fprintf(stderr, "fuzz_records: recv %zu (flags %#x): %zd, expected %zu: %s\n", n,
                flags, got, want, got < 0 ? ns_last_error() : "");
        abort();
    }
    pair_check_read(p, buf, (size_t)got, flags & MSG_PEEK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int blocking = data[0] & 1;
    tls_pair *p = &pair;
    pair_open(p, blocking);
    static const int flag_bits[3] = {MSG_PEEK, MSG_WAITALL, MSG_DONTWAIT};
    for (size_t i = 1, ops = 0; i + 1 < size && ops < MAX_OPS; i += 2, ops++) {
        uint8_t op = data[i];
        size_t n = ((size_t)data[i + 1] + 1) * (op & 4 ? 32 : 1);
        int flags = 0;
        for (int b = 0; b < 3; b++)
            flags |= (op >> 3) & (1 << b) ? flag_bits[b] : 0;
        if (!pair_step(p, op, n))
            receive(p, n, flags, blocking);
    }
    /* Everything sent arrives, in order, and then nothing more. */
    pair_pass(p, p->received - p->passed);
    for (int k = 0; k < PAIR_MAX_RECORDS && pair_expect(p, 8192) > 0; k++)
        receive(p, 8192, MSG_DONTWAIT, blocking);
    receive(p, 8192, MSG_DONTWAIT, blocking);
    if (p->read_bytes != p->sent_bytes)
        abort();
    pair_close(p);
    return 0;
}
