/* Deadlines, polling with a deadline (EINTR retried), and the calling
 * thread's interrupt (ns_set_thread_interrupt) that can end such a wait. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <time.h>

#include "internal.h"

int64_t ns_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t ns_deadline_after(int64_t us)
{
    if (us < 0)
        return -1;
    int64_t now = ns_now_us();
    /* A timeout of centuries is as good as none, and must not overflow. */
    return us > INT64_MAX - now ? INT64_MAX : now + us;
}

int ns_poll_ms_left(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - ns_now_us();
    if (left <= 0)
        return 0;
    int64_t ms = (left + 999) / 1000;
    return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

/* The calling thread's interrupt: an fd whose readability ends a wait, and
 * a check asked after a signal (EINTR).  fd -1 and check NULL: none. */
static __thread struct {
    int fd;
    ns_interrupt_check check;
    void *userdata;
} interrupt = {-1, NULL, NULL};

int ns_set_thread_interrupt(int fd, ns_interrupt_check check, void *userdata)
{
    interrupt.fd = fd < 0 ? -1 : fd;
    interrupt.check = check;
    interrupt.userdata = userdata;
    return NS_OK;
}

int ns_interrupt_fd(void) { return interrupt.fd; }

int ns_interruptible(void) { return interrupt.fd >= 0 || interrupt.check != NULL; }

int ns_interrupted(void) { return interrupt.check != NULL && interrupt.check(interrupt.userdata) != 0; }

int ns_poll_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = interrupt.fd, .events = POLLIN}};
        nfds_t n = interrupt.fd >= 0 ? 2 : 1;
        int ms = ns_poll_ms_left(deadline);
        if (ms == 0 && deadline >= 0) {
            /* Expired: one last non-waiting look. */
            int r = poll(p, 1, 0);
            return r > 0 ? 1 : (r == 0 ? 0 : (errno == EINTR ? 0 : -errno));
        }
        int r = poll(p, n, ms);
        if (r > 0)
            return p[0].revents ? 1 : -EINTR; /* else the interrupt fd is readable */
        if (r == 0) {
            /* poll rounds to ms; recheck against the microsecond deadline. */
            if (deadline >= 0 && ns_now_us() < deadline)
                continue;
            return 0;
        }
        if (errno != EINTR)
            return -errno;
        if (ns_interrupted())
            return -EINTR;
    }
}
