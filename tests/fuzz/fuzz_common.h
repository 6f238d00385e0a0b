/* Shared by the TLS fuzz targets: run-time certificates and raw sockets. */
#ifndef NS_FUZZ_COMMON_H
#define NS_FUZZ_COMMON_H

#include <linux/sockios.h>
#include <linux/tcp.h> /* its tcp_info has the byte counters */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "certgen.h"
#include "netsocket.h"

static test_cert *fuzz_ca, *fuzz_leaf;

static void fuzz_certs_free(void)
{
    certgen_free(fuzz_leaf);
    certgen_free(fuzz_ca);
}

static inline void fuzz_certs(void)
{
    if (fuzz_ca)
        return;
    atexit(fuzz_certs_free);
    fuzz_ca = certgen_ca("fuzz CA");
    fuzz_leaf = certgen_leaf(fuzz_ca, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 365);
}

/* Finishes a connect that a signal interrupted (libFuzzer's -timeout
 * alarm): the kernel goes on with it, so closing and trying again would
 * leave that first connection in the listener's queue, where the next
 * accept would take it instead of ours. */
static inline int connect_finished(int fd)
{
    struct pollfd pf = {.fd = fd, .events = POLLOUT};
    int err = 0, polled;
    socklen_t len = sizeof err;
    for (int i = 0; i < 100 && (polled = poll(&pf, 1, 2000)) < 0 && errno == EINTR; i++) {
    }
    return polled == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
}

/* A raw loopback socket connected to port (no netsocket); a few tries,
 * as a loopback connect can be refused now and then under load. */
static inline int raw_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int tries = 0; tries < 5; tries++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
            return fd;
        if (fd >= 0 && errno == EINTR && connect_finished(fd))
            return fd;
        perror("fuzz harness: loopback connect");
        if (fd >= 0)
            close(fd);
        usleep(10000);
    }
    return -1;
}

/* Closes with a reset: after tens of thousands of connections, lingering
 * TIME_WAIT sockets would otherwise make loopback connects fail. */
static inline void raw_abort(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

/* Writes everything (the peer's buffer holds a fuzz input), then EOF. */
static inline void raw_send_and_end(int fd, const uint8_t *data, size_t size)
{
    while (size > 0) {
        ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        data += n;
        size -= (size_t)n;
    }
    shutdown(fd, SHUT_WR);
}

/* Bytes fd's application wrote (received: read off the wire in order);
 * 0 if TCP_INFO cannot tell (an emulator may not pass it through). */
static inline int tcp_counter(int fd, int received, uint64_t *out)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 || len < sizeof ti)
        return 0;
    /* Written = sent once (retransmissions apart) + not sent yet. */
    *out = received ? ti.tcpi_bytes_received
                    : ti.tcpi_bytes_sent - ti.tcpi_bytes_retrans + ti.tcpi_notsent_bytes;
    return 1;
}

/* Waits (bounded) until everything `from` wrote is in the receive queue
 * of `to`, its peer.  Loopback does that at once (its acknowledgement may
 * be delayed, so that is not what is waited for); abort if it never does.
 * Without TCP_INFO: until acknowledged, or, without SIOCOUTQ either, 5 ms. */
static inline void fuzz_arrived(int from, int to)
{
    for (int i = 0; i < 20000; i++) {
        uint64_t written, got;
        int unacked = 0;
        if (tcp_counter(from, 0, &written) && tcp_counter(to, 1, &got)) {
            if (written == got)
                return;
        } else if (ioctl(from, SIOCOUTQ, &unacked) != 0) {
            usleep(5000);
            return;
        } else if (unacked == 0) {
            return;
        }
        usleep(100);
    }
    abort();
}

/* No Nagle on fd: a small write held back for a delayed acknowledgement
 * would not arrive (see fuzz_arrived) until the peer's timer (up to 40 ms)
 * fires. */
static inline void fuzz_no_delay(int fd)
{
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        abort();
}

#endif
