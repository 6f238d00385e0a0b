/* The interop tests' peers: programs no one here wrote (openssl, gnutls)
 * run as child processes with their stdin and stdout/stderr on pipes.
 * Every wait is bounded, and every child is killed and reaped when its
 * test ends (PEER_TEST), also when a CHECK failed. */
#ifndef NS_INTEROP_PEER_H
#define NS_INTEROP_PEER_H

#include <stdint.h>
#include <sys/types.h>

#include "testlib.h"

typedef struct {
    pid_t pid;
    int in;  /* the child's stdin; -1 once closed */
    int out; /* the child's stdout and stderr; -1 at end of file */
    char log[1 << 17];
    size_t log_len;
    size_t mark; /* peer_saw looks at the output from here on */
    int reaped, status;
    char name[48];
} peer;

/* 1 if name is a program on PATH. */
int have_program(const char *name);
/* Starts a program: the arguments of `fixed`, then those of `extra` (both
 * NULL-terminated; extra may be NULL).  Its stdout is made line-buffered,
 * so that what it prints with stdio shows while it runs, and one line is
 * not torn apart by its raw writes of the data it received. */
peer *peer_run(const char *const *fixed, const char *const *extra);
/* Reads what the peer printed, waiting at most until deadline for more. */
void peer_drain(peer *p, int64_t deadline);
/* 1 once the peer's output (since peer_mark) contains text, 0 if it did
 * not within timeout. */
int peer_saw(peer *p, const char *text, int64_t timeout_us);
/* From now on, peer_saw looks only at output yet to come. */
void peer_mark(peer *p);
int peer_write(peer *p, const char *text);
void peer_close_stdin(peer *p);
/* 1 if the peer exited within timeout (its wait status in p->status). */
int peer_wait_exit(peer *p, int64_t timeout_us);
int peer_exited_ok(peer *p);
int peer_exited_failing(peer *p);
/* Kills and reaps every peer of the test; shows their output if it failed
 * (always with NS_INTEROP_VERBOSE set). */
void peers_stop(void);

/* A test that starts peers: the body, then peers_stop whatever happened. */
#define PEER_TEST(name)                                                                    \
    static void name##_body(void);                                                         \
    static void name(void)                                                                 \
    {                                                                                      \
        name##_body();                                                                     \
        peers_stop();                                                                      \
    }                                                                                      \
    static void name##_body(void)

/* Skips the test when prog is missing, unless NS_INTEROP_REQUIRE_PEERS is
 * set (as in CI, which installs them): then that is a failure. */
#define REQUIRE_PROGRAM(prog)                                                              \
    do {                                                                                   \
        if (!have_program(prog)) {                                                         \
            if (getenv("NS_INTEROP_REQUIRE_PEERS")) {                                      \
                fprintf(stderr, "  %s is not installed\n", prog);                          \
                ns_test_failed = 1;                                                        \
                return;                                                                    \
            }                                                                              \
            SKIP("%s is not installed", prog);                                             \
        }                                                                                  \
    } while (0)

#endif
