/* Runs an example server binary (examples/selector_echo_server) as a child
 * process, the way a user would: the shipped program, not a copy. */
#ifndef NS_EXAMPLE_SERVER_H
#define NS_EXAMPLE_SERVER_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "certgen.h"
#include "testlib.h"

typedef struct {
    pid_t pid;
    FILE *out;              /* its stdout */
    int plain_port, tls_port;
    char dir[32];           /* server.crt / server.key */
    int64_t started_us;
} example_server;

/* Writes leaf's certificate and key to a temporary directory and starts
 * `path 0 0 CRT KEY` with the caller's environment, then reads the ports it
 * prints.  0 on success, -1 on failure (nothing left running). */
int example_server_start(example_server *srv, const char *path, const test_cert *leaf);
/* Waits up to timeout_us for the server to exit by itself (then kills it);
 * returns its exit status (-1 if it had to be killed) and, if cpu_us is not
 * NULL, the CPU time it used (user + system). */
int example_server_reap(example_server *srv, int64_t timeout_us, int64_t *cpu_us);
/* 1 if a line of the server's remaining output contains want (reads to
 * the end: call it once the server has exited). */
int example_server_said(example_server *srv, const char *want);
/* Kills the server if it still runs; removes the files. */
void example_server_cleanup(example_server *srv);
/* The main of a test binary run as `NAME PATH/TO/SERVER`: sets *path, runs
 * the tests, then cleans srv up (a test that ended early left it running). */
int example_server_test_main(const ns_test *tests, size_t n, int argc, char **argv,
                             const char **path, example_server *srv);
#define EXAMPLE_SERVER_TEST_MAIN(list, path, srv)                                          \
    int main(int argc, char **argv)                                                        \
    {                                                                                      \
        return example_server_test_main(list, sizeof list / sizeof list[0], argc, argv,    \
                                        &path, &srv);                                      \
    }

#endif
