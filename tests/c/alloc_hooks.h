/* Allocation hooks for the torture and security tests.
 *
 * Every test executable that links alloc_hooks.c replaces the process's
 * malloc/calloc/realloc/free/strdup (forwarding to glibc's __libc_*
 * functions), so netsocket's own allocations and libc's on its behalf
 * (getaddrinfo, fopen: glibc calls the replaced malloc too) can be
 * counted, failed, and scanned when freed.  Built with
 * NS_BSSL_HOOKS it also defines BoringSSL's malloc hooks (OPENSSL_memory_*,
 * see BoringSSL's crypto/mem.c), which the weak references inside
 * libnetsocket.so resolve to, so every BoringSSL allocation in the library is
 * counted and can be failed too.
 *
 * Under AddressSanitizer or ThreadSanitizer libc is not replaced (the
 * sanitizer owns malloc): only BoringSSL's allocations are counted there.
 */
#ifndef NS_ALLOC_HOOKS_H
#define NS_ALLOC_HOOKS_H

#include <stddef.h>

/* Starts counting allocations made by any thread; the fail_at-th one
 * (1-based; 0 = none) returns NULL. */
void alloc_arm(long fail_at);
/* Stops counting; returns the number of allocations counted. */
long alloc_disarm(void);
/* Pauses and resumes counting (e.g. around pthread_create), keeping the count. */
int alloc_pause(void);            /* returns the state for alloc_resume */
void alloc_resume(int state);
/* 1 if the armed allocation failure happened. */
int alloc_injected(void);
/* 1 if libc's malloc family is replaced and reached in this run (not under
 * a sanitizer or valgrind). */
int alloc_libc_hooked(void);
/* BoringSSL blocks allocated and not yet freed (NS_BSSL_HOOKS builds). */
long alloc_bssl_live(void);
/* libc blocks (malloc family) allocated and not yet freed, when
 * alloc_libc_hooked(); the torture checks netsocket's own for leaks. */
long alloc_libc_live(void);

/* Counts freed libc blocks that still contain `needle` (a copy is kept);
 * NULL stops watching.  Needs alloc_libc_hooked(). */
void alloc_watch(const void *needle, size_t len);
long alloc_watch_hits(void);

#endif
