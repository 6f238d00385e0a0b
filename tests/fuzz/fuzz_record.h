/* Seeds that reach application data: in the fuzz tree (BoringSSL in its
 * fuzzer mode: deterministic, records unencrypted, Finished not checked) a
 * real netsocket client and server exchange "hello" through a relay that
 * records one direction; replayed, those bytes take the fuzzed side past the
 * handshake.  A target records when NS_FUZZ_RECORD names the output file:
 *   NS_FUZZ_RECORD=tests/fuzz/corpus/fuzz_tls_server/hello build-fuzz/tests/fuzz/fuzz_tls_server
 * The certificates are the same in every run of a target (the fuzz tree's
 * random numbers are deterministic and fuzz_certs draws them first), so a
 * recorded server flight carries a chain the replaying client trusts. */
#ifndef NS_FUZZ_RECORD_H
#define NS_FUZZ_RECORD_H

#include <poll.h>
#include <pthread.h>

#include "fuzz_common.h"

typedef struct {
    int listener, target_port, record_to_server;
    FILE *out;
} relay_job;

/* One connection: client <-> relay <-> target, recording one direction. */
static void *relay(void *arg)
{
    relay_job *j = arg;
    int a = accept(j->listener, NULL, NULL), b = raw_connect(j->target_port);
    if (a < 0 || b < 0)
        abort();
    struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
    for (int open = 2, rounds = 0; open > 0 && rounds < 10000; rounds++) {
        if (poll(p, 2, 5000) <= 0)
            break;
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[16384];
            ssize_t n = recv(p[i].fd, buf, sizeof buf, 0);
            int to = i == 0 ? b : a;
            if (n <= 0) {
                shutdown(to, SHUT_WR);
                p[i].fd = -1;
                open--;
                continue;
            }
            if ((i == 0) == (j->record_to_server != 0))
                fwrite(buf, 1, (size_t)n, j->out);
            send(to, buf, (size_t)n, MSG_NOSIGNAL);
        }
    }
    close(a);
    close(b);
    return NULL;
}

/* A raw listener on a loopback port of its own; returns the port. */
static int fuzz_listen(int *fd_out)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 4) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) != 0)
        abort();
    *fd_out = l;
    return ntohs(a.sin_port);
}

/* Starts the relay to target_port; returns the port clients connect to. */
static int fuzz_record_start(relay_job *j, pthread_t *t, int target_port, int record_to_server)
{
    const char *path = getenv("NS_FUZZ_RECORD");
    j->out = path ? fopen(path, "wb") : NULL;
    if (j->out == NULL)
        abort();
    j->target_port = target_port;
    j->record_to_server = record_to_server;
    int port = fuzz_listen(&j->listener);
    pthread_create(t, NULL, relay, j);
    return port;
}

static void fuzz_record_end(relay_job *j, pthread_t t)
{
    pthread_join(t, NULL);
    close(j->listener);
    fclose(j->out);
}

#endif
