/*
 * dlclose_thread: a thread that made one failing netsocket call outlives
 * the library's dlclose, then exits.  BoringSSL (inside libnetsocket) keeps
 * its error queue in a thread-local slot whose destructor runs at thread
 * exit; were the library unmapped by then, that destructor would run
 * unmapped code (SIGSEGV).  libnetsocket is linked -z nodelete, so dlclose
 * leaves it mapped.  This is what a language runtime does when it unloads
 * an extension (Lua's lua_close on a worker thread's state, Python/Ruby
 * hosts that dlclose): the test runs the scenario in a child process and
 * requires a clean exit.
 *
 * usage: dlclose_thread   (LD_LIBRARY_PATH finds libnetsocket.so.1)
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netsocket.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int stage; /* 1: the thread failed its call; 2: the library is closed */
static char message[256];

static void *worker(void *lib)
{
    __typeof__(ns_options_new) *options_new = (__typeof__(ns_options_new) *)dlsym(lib, "ns_options_new");
    __typeof__(ns_options_set_private_key) *set_key =
        (__typeof__(ns_options_set_private_key) *)dlsym(lib, "ns_options_set_private_key");
    __typeof__(ns_options_free) *options_free = (__typeof__(ns_options_free) *)dlsym(lib, "ns_options_free");
    __typeof__(ns_last_error) *last_error = (__typeof__(ns_last_error) *)dlsym(lib, "ns_last_error");
    ns_options *o = options_new(NS_TLS_SOCKET_OPTIONS);
    /* One failing call: BoringSSL's error queue gets this thread's slot. */
    int rc = set_key(o, "not a key", 9);
    snprintf(message, sizeof message, "%d %s", rc, last_error());
    options_free(o);
    pthread_mutex_lock(&lock);
    stage = 1;
    pthread_cond_broadcast(&cond);
    while (stage < 2)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    return NULL; /* thread exit: thread-local destructors run now */
}

static int child(void)
{
    void *lib = dlopen("libnetsocket.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, worker, lib) != 0)
        return 3;
    pthread_mutex_lock(&lock);
    while (stage < 1)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    if (dlclose(lib) != 0) {
        fprintf(stderr, "dlclose: %s\n", dlerror());
        return 4;
    }
    pthread_mutex_lock(&lock);
    stage = 2;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    pthread_join(t, NULL);
    printf("%s\n", message);
    return 0;
}

int main(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0)
        _exit(child());
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return 1;
    if (WIFSIGNALED(status)) {
        printf("FAIL: the child died of signal %d (%s) at thread exit after dlclose\n",
               WTERMSIG(status), strsignal(WTERMSIG(status)));
        return 1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("FAIL: the child exited with %d\n", WEXITSTATUS(status));
        return 1;
    }
    printf("ok: the thread exited cleanly after dlclose\n");
    return 0;
}
