/* Fuzz target: the selector's readiness of a TLS socket.  The records of
 * a netsocket server reach the client in input-chosen pieces at
 * input-chosen times (fuzz_pair.h), the client reads some, and after
 * every step the selector (a persistent watch, or a one-shot add made
 * again each time) is asked with a zero timeout.  Whenever the client has
 * a whole record or decrypted bytes unread, it must be reported readable
 * (a lost wake-up hangs an event loop); whenever it has not and its
 * descriptor is empty (a partial record at most, already read into the
 * buffers), it must not be (a false one spins).  With bytes in the
 * descriptor either is right: only a read can tell a partial record.
 *
 * Input: a mode byte (bit 0: one-shot adds), then ops of two bytes, op and
 * argument a:  op & 3 = 0: the server sends a+1 bytes (times 32 if op &
 * 4);  1: the relay passes a+1 bytes (times 32 if op & 4);  2: the client
 * receives a+1 bytes, peeking if op & 8, with MSG_DONTWAIT (what it gets
 * is checked against the model);  3: the relay passes everything. */
#include "fuzz_pair.h"

#define MAX_OPS 64

static tls_pair pair;
static ns_selector *selector;

static void selector_free(void) { ns_selector_free(selector); }

static void check_readiness(tls_pair *p, int one_shot, size_t step)
{
    if (one_shot && ns_selector_add(selector, p->client, -1, NULL) != NS_OK)
        abort();
    int queued = -1;
    if (ioctl(ns_socket_fd(p->client), FIONREAD, &queued) != 0)
        abort();
    int readable = pair_expect(p, 1) > 0;
    int n = ns_selector_wait(selector, 0);
    int reported = n == 1 && ns_selector_event_socket(selector, 0) == p->client &&
                   ns_selector_event_ready(selector, 0) == NS_WANT_READ;
    if (n < 0 || n > 1 || (n == 1 && !reported) || (readable && !reported) ||
        (!readable && queued == 0 && reported)) {
        fprintf(stderr,
                "fuzz_selector: step %zu: %d events (%s), the model says %s, %d bytes in the "
                "descriptor\n",
                step, n, reported ? "readable" : "not readable",
                readable ? "readable" : "not readable", queued);
        abort();
    }
}

static void receive(tls_pair *p, size_t n, int flags)
{
    uint8_t buf[256];
    size_t want = pair_expect(p, n);
    ssize_t got = ns_socket_recv(p->client, buf, n, flags | MSG_DONTWAIT);
    if (want == 0 ? got != NS_ERR_WOULD_BLOCK : got != (ssize_t)want) {
        fprintf(stderr, "fuzz_selector: recv %zu: %zd, expected %zu\n", n, got, want);
        abort();
    }
    if (want > 0)
        pair_check_read(p, buf, (size_t)got, flags & MSG_PEEK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int one_shot = data[0] & 1;
    if (selector == NULL) {
        if ((selector = ns_selector_new()) == NULL)
            abort();
        atexit(selector_free);
    }
    tls_pair *p = &pair;
    pair_open(p, 0);
    if (!one_shot && ns_selector_watch(selector, p->client, NS_WANT_READ, -1, NULL, NULL) != NS_OK)
        abort();
    check_readiness(p, one_shot, 0);
    for (size_t i = 1, ops = 0; i + 1 < size && ops < MAX_OPS; i += 2, ops++) {
        uint8_t op = data[i];
        size_t n = ((size_t)data[i + 1] + 1) * (op & 4 ? 32 : 1);
        if (!pair_step(p, op, n))
            receive(p, (size_t)data[i + 1] + 1, op & 8 ? MSG_PEEK : 0);
        check_readiness(p, one_shot, ops + 1);
    }
    pair_close(p); /* freeing the client removes it from the selector */
    if (ns_selector_count(selector) != 0)
        abort();
    return 0;
}
