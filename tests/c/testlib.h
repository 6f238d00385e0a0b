/* A tiny test harness: named tests in a list, assertion macros, and
 * loopback helpers.  Each test binary prints "N passed, N failed, N skipped". */
#ifndef NS_TESTLIB_H
#define NS_TESTLIB_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsocket.h"

typedef struct {
    const char *name;
    void (*fn)(void);
} ns_test;

#define TEST(name) {#name, name}

extern int ns_test_failed, ns_test_skipped;

/* Ends the test as skipped, saying why.  A binary with a skipped test and
 * no failed one exits with NS_TEST_SKIP_STATUS, which ctest reports as
 * "Skipped" (SKIP_RETURN_CODE): a skip never reads as a pass. */
#define NS_TEST_SKIP_STATUS 77
#define SKIP(...)                                                                          \
    do {                                                                                   \
        printf("  skipped: ");                                                             \
        printf(__VA_ARGS__);                                                               \
        printf("\n");                                                                      \
        ns_test_skipped = 1;                                                               \
        return;                                                                            \
    } while (0)

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed; last error %s: %s\n", __FILE__,    \
                    __LINE__, #cond, ns_status_name(ns_last_status()), ns_last_error());   \
            ns_test_failed = 1;                                                            \
            return;                                                                        \
        }                                                                                  \
    } while (0)

#define CHECK_EQ(a, b)                                                                     \
    do {                                                                                   \
        long long va_ = (long long)(a), vb_ = (long long)(b);                              \
        if (va_ != vb_) {                                                                  \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld; last error: %s\n",  \
                    __FILE__, __LINE__, #a, va_, #b, vb_, ns_last_error());                \
            ns_test_failed = 1;                                                            \
            return;                                                                        \
        }                                                                                  \
    } while (0)

/* Checks that string a (possibly NULL) equals b. */
#define CHECK_STR(a, b)                                                                    \
    do {                                                                                   \
        const char *sa_ = (a), *sb_ = (b);                                                 \
        if (sa_ == NULL || strcmp(sa_, sb_) != 0) {                                        \
            fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"; last error: %s\n",     \
                    __FILE__, __LINE__, #a, sa_ ? sa_ : "(null)", sb_, ns_last_error());   \
            ns_test_failed = 1;                                                            \
            return;                                                                        \
        }                                                                                  \
    } while (0)

/* Checks that the last error message contains `needle`. */
#define CHECK_ERROR_HAS(needle) CHECK(strstr(ns_last_error(), (needle)) != NULL)

int ns_test_main(const ns_test *tests, size_t n, int argc, char **argv);
#define NS_TEST_MAIN(list)                                                                 \
    int main(int argc, char **argv)                                                        \
    {                                                                                      \
        return ns_test_main(list, sizeof list / sizeof list[0], argc, argv);               \
    }

/* Options with blocking I/O and the given read timeout (-1 = none). */
ns_options *blocking_options(ns_options_kind kind, int64_t read_timeout);
/* Port of a server socket as a string (static buffer per thread). */
const char *port_of(ns_socket *server);
/* Runs fn(arg) in a new thread. */
pthread_t spawn(void *(*fn)(void *), void *arg);
int64_t now_us(void);
/* Server behaviours: echo one read back; read until the peer is done. */
void echo_line(ns_socket *conn);
void wait_for_close(ns_socket *conn);
/* A thread body: accepts one connection on server and echoes one read. */
void *accept_and_echo(void *server);
/* An upper time bound, stretched by NS_TEST_TIME_SCALE (e.g. 20 under
 * valgrind) so that slow instrumented runs test behaviour, not speed. */
int64_t ns_test_slack(int64_t us);
#define SLACK(us) ns_test_slack(us)
/* Sends all of text; 1 on success. */
int send_text(ns_socket *s, const char *text);
/* Receives until the bytes received (at most 4 KiB) contain want; 1 if they
 * did, 0 at an error, end of stream or the socket's read timeout. */
int recv_text(ns_socket *s, const char *want);

/* A certificate verifier (userdata: a verdict) that counts its calls and
 * accepts what the library accepts while `accept` is set. */
typedef struct {
    int calls;  /* atomic */
    int accept; /* atomic */
} verdict;
int verdict_verifier(void *userdata, int depth, int preverify_error, const unsigned char *der,
                      size_t len);

/* Continues an open started by ns_socket_connect_start, waiting with poll
 * as ns_socket_wants says, until it is no longer NS_ERR_WOULD_BLOCK (at
 * most 1,000 rounds, counted in *rounds); returns its status. */
int open_by_wants(ns_socket *s, int *rounds);

#endif
