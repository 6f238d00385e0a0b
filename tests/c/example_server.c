#include "example_server.h"

#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

extern char **environ;

static void file_in(const example_server *srv, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", srv->dir, name);
}

int example_server_start(example_server *srv, const char *path, const test_cert *leaf)
{
    *srv = (example_server){.pid = -1};
    snprintf(srv->dir, sizeof srv->dir, "/tmp/ns-example-XXXXXX");
    if (mkdtemp(srv->dir) == NULL || certgen_write(leaf, srv->dir, "server") != 0)
        return -1;
    char crt[64], key[64];
    file_in(srv, "server.crt", crt, sizeof crt);
    file_in(srv, "server.key", key, sizeof key);
    int out[2];
    if (pipe(out) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    char *args[] = {(char *)path, "0", "0", crt, key, NULL};
    srv->started_us = now_us();
    int rc = posix_spawn(&srv->pid, path, &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (rc != 0) {
        srv->pid = -1;
        close(out[0]);
        return -1;
    }
    srv->out = fdopen(out[0], "r");
    if (srv->out && fscanf(srv->out, "plain %d tls %d", &srv->plain_port, &srv->tls_port) == 2)
        return 0;
    example_server_cleanup(srv);
    return -1;
}

int example_server_reap(example_server *srv, int64_t timeout_us, int64_t *cpu_us)
{
    int status = 0, killed = 0;
    struct rusage ru;
    int64_t give_up = now_us() + timeout_us;
    while (wait4(srv->pid, &status, WNOHANG, &ru) == 0) {
        if (now_us() >= give_up) {
            kill(srv->pid, SIGKILL);
            killed = 1;
            wait4(srv->pid, &status, 0, &ru);
            break;
        }
        usleep(10000);
    }
    srv->pid = -1;
    if (cpu_us)
        *cpu_us = (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
                  ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
    if (killed || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

int example_server_said(example_server *srv, const char *want)
{
    char line[256];
    while (srv->out && fgets(line, sizeof line, srv->out) != NULL)
        if (strstr(line, want))
            return 1;
    return 0;
}

void example_server_cleanup(example_server *srv)
{
    if (srv->pid > 0) {
        kill(srv->pid, SIGKILL);
        waitpid(srv->pid, NULL, 0);
        srv->pid = -1;
    }
    if (srv->out)
        fclose(srv->out);
    srv->out = NULL;
    char path[64];
    file_in(srv, "server.crt", path, sizeof path);
    unlink(path);
    file_in(srv, "server.key", path, sizeof path);
    unlink(path);
    rmdir(srv->dir);
}

int example_server_test_main(const ns_test *tests, size_t n, int argc, char **argv,
                             const char **path, example_server *srv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH/TO/SERVER\n", argv[0]);
        return 2;
    }
    *path = argv[1];
    int rc = ns_test_main(tests, n, 1, argv);
    example_server_cleanup(srv);
    return rc;
}
