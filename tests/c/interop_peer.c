/* The interop tests' peer processes (interop_peer.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "interop_peer.h"

static peer peers[8];
static int peer_count;

int have_program(const char *name)
{
    const char *p = getenv("PATH");
    char buf[PATH_MAX];
    while (p && *p) {
        size_t n = strcspn(p, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, p, name);
        if (access(buf, X_OK) == 0)
            return 1;
        p += n + (p[n] == ':');
    }
    return 0;
}

/* Starts argv[0] with pipes on its stdin and stdout+stderr; name[0] and
 * name[1] name it in messages.  Use peer_run. */
static peer *peer_start(char *const argv[], char *const name[])
{
    if (peer_count == (int)(sizeof peers / sizeof peers[0]))
        return NULL;
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0)
        return NULL;
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        return NULL;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        signal(SIGPIPE, SIG_DFL);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    if (pid < 0) {
        close(in[1]);
        close(out[0]);
        return NULL;
    }
    peer *p = &peers[peer_count++];
    memset(p, 0, sizeof *p);
    p->pid = pid;
    p->in = in[1];
    p->out = out[0];
    snprintf(p->name, sizeof p->name, "%s %s", name[0], name[1] ? name[1] : "");
    fcntl(p->out, F_SETFL, O_NONBLOCK);
    return p;
}

void peer_drain(peer *p, int64_t deadline)
{
    if (p->out < 0)
        return;
    int64_t left = deadline - now_us();
    struct pollfd pfd = {p->out, POLLIN, 0};
    if (poll(&pfd, 1, left > 0 ? (int)(left / 1000) : 0) <= 0)
        return;
    for (;;) {
        size_t room = sizeof p->log - 1 - p->log_len;
        if (room == 0) { /* keep the newest output: shift out the oldest half */
            memmove(p->log, p->log + sizeof p->log / 2, p->log_len - sizeof p->log / 2);
            p->log_len -= sizeof p->log / 2;
            p->mark = p->mark > sizeof p->log / 2 ? p->mark - sizeof p->log / 2 : 0;
            continue;
        }
        ssize_t n = read(p->out, p->log + p->log_len, room);
        if (n > 0) {
            p->log_len += (size_t)n;
            p->log[p->log_len] = '\0';
            continue;
        }
        if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            close(p->out);
            p->out = -1;
        }
        if (n == 0 || errno != EINTR)
            return;
    }
}

int peer_saw(peer *p, const char *text, int64_t timeout_us)
{
    int64_t deadline = now_us() + timeout_us;
    for (;;) {
        if (memmem(p->log + p->mark, p->log_len - p->mark, text, strlen(text)) != NULL)
            return 1;
        if (p->out < 0 || now_us() >= deadline)
            return 0;
        peer_drain(p, deadline);
    }
}

void peer_mark(peer *p)
{
    p->mark = p->log_len;
}

int peer_write(peer *p, const char *text)
{
    size_t len = strlen(text);
    return p->in >= 0 && write(p->in, text, len) == (ssize_t)len;
}

void peer_close_stdin(peer *p)
{
    if (p->in >= 0)
        close(p->in);
    p->in = -1;
}

int peer_wait_exit(peer *p, int64_t timeout_us)
{
    int64_t deadline = now_us() + timeout_us;
    while (!p->reaped) {
        pid_t r = waitpid(p->pid, &p->status, WNOHANG);
        if (r == p->pid) {
            p->reaped = 1;
            break;
        }
        if (r < 0 && errno != EINTR)
            return 0;
        if (now_us() >= deadline)
            return 0;
        peer_drain(p, now_us() + 20000);
        if (p->out < 0)
            usleep(10000);
    }
    peer_drain(p, now_us());
    return 1;
}

int peer_exited_ok(peer *p)
{
    return p->reaped && WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0;
}

int peer_exited_failing(peer *p)
{
    return p->reaped && !(WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0);
}

void peers_stop(void)
{
    for (int i = 0; i < peer_count; i++) {
        peer *p = &peers[i];
        if (!p->reaped) {
            kill(p->pid, SIGKILL);
            if (!peer_wait_exit(p, 2000000))
                fprintf(stderr, "  peer %d (%s) did not die\n", (int)p->pid, p->name);
        }
        peer_close_stdin(p);
        if (p->out >= 0)
            close(p->out);
        if (ns_test_failed || getenv("NS_INTEROP_VERBOSE")) {
            size_t from = p->log_len > 3000 ? p->log_len - 3000 : 0;
            fprintf(stderr, "  --- output of %s (last %zu bytes) ---\n%s\n  ---\n", p->name,
                    p->log_len - from, p->log + from);
        }
    }
    peer_count = 0;
}

peer *peer_run(const char *const *fixed, const char *const *extra)
{
    const char *argv[48] = {"stdbuf", "-oL"};
    size_t first = have_program("stdbuf") ? 0 : 2, n = 2;
    for (; *fixed && n < 47; fixed++)
        argv[n++] = *fixed;
    for (; extra && *extra && n < 47; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    return peer_start((char *const *)argv + first, (char *const *)argv + 2);
}
