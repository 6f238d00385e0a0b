/* See alloc_hooks.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "alloc_hooks.h"
#include "netsocket.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HOOK_LIBC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HOOK_LIBC 0
#endif
#endif
#ifndef HOOK_LIBC
#define HOOK_LIBC 1
#endif

static int armed;
static long counted, fail_at;
static int injected;
static long bssl_live;
static long libc_live; /* blocks from the replaced malloc family not yet freed */

static int should_fail(void)
{
    if (!__atomic_load_n(&armed, __ATOMIC_ACQUIRE))
        return 0;
    long n = __atomic_add_fetch(&counted, 1, __ATOMIC_ACQ_REL);
    if (n != __atomic_load_n(&fail_at, __ATOMIC_ACQUIRE))
        return 0;
    __atomic_store_n(&injected, 1, __ATOMIC_RELEASE);
    return 1;
}

void alloc_arm(long n)
{
    __atomic_store_n(&counted, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&injected, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&fail_at, n, __ATOMIC_RELEASE);
    __atomic_store_n(&armed, 1, __ATOMIC_RELEASE);
}

long alloc_disarm(void)
{
    __atomic_store_n(&armed, 0, __ATOMIC_RELEASE);
    return __atomic_load_n(&counted, __ATOMIC_ACQUIRE);
}


int alloc_pause(void) { return __atomic_exchange_n(&armed, 0, __ATOMIC_ACQ_REL); }
void alloc_resume(int state) { __atomic_store_n(&armed, state, __ATOMIC_RELEASE); }
int alloc_injected(void) { return __atomic_load_n(&injected, __ATOMIC_ACQUIRE); }

/* Whether libnetsocket's calls reach the replaced malloc: not under a
 * sanitizer, nor under valgrind, which puts its own in front. */
int alloc_libc_hooked(void)
{
    static int probed = -1;
    if (probed < 0) {
        int state = alloc_pause();
        long before = counted, fail = fail_at;
        fail_at = 0;
        armed = 1;
        ns_options_free(ns_options_new(NS_SOCKET_OPTIONS));
        armed = 0;
        probed = __atomic_load_n(&counted, __ATOMIC_ACQUIRE) != before;
        counted = before;
        fail_at = fail;
        alloc_resume(state);
    }
    return probed;
}

long alloc_bssl_live(void) { return __atomic_load_n(&bssl_live, __ATOMIC_ACQUIRE); }
long alloc_libc_live(void) { return __atomic_load_n(&libc_live, __ATOMIC_ACQUIRE); }

/* ---- the free-time scanner ---- */

static unsigned char needle_buf[256];
static size_t needle_len;
static long watch_hits;

void alloc_watch(const void *needle, size_t len)
{
    __atomic_store_n(&needle_len, 0, __ATOMIC_RELEASE);
    if (needle == NULL || len == 0 || len > sizeof needle_buf)
        return;
    memcpy(needle_buf, needle, len);
    __atomic_store_n(&watch_hits, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&needle_len, len, __ATOMIC_RELEASE);
}

long alloc_watch_hits(void) { return __atomic_load_n(&watch_hits, __ATOMIC_ACQUIRE); }

static void scan(const void *p, size_t size)
{
    size_t n = __atomic_load_n(&needle_len, __ATOMIC_ACQUIRE);
    if (n && p && memmem(p, size, needle_buf, n) != NULL)
        __atomic_add_fetch(&watch_hits, 1, __ATOMIC_ACQ_REL);
}

#if HOOK_LIBC
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static void *counted_block(void *p)
{
    if (p)
        __atomic_add_fetch(&libc_live, 1, __ATOMIC_ACQ_REL);
    return p;
}

void *malloc(size_t n)
{
    if (should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    return counted_block(__libc_malloc(n));
}

void *calloc(size_t a, size_t b)
{
    if (should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    return counted_block(__libc_calloc(a, b));
}

void *realloc(void *p, size_t n)
{
    if (should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    if (p && __atomic_load_n(&needle_len, __ATOMIC_ACQUIRE))
        scan(p, malloc_usable_size(p)); /* realloc may free the old block */
    void *q = __libc_realloc(p, n);
    if (p == NULL)
        counted_block(q);
    else if (q == NULL && n == 0) /* freed */
        __atomic_sub_fetch(&libc_live, 1, __ATOMIC_ACQ_REL);
    return q;
}

/* The aligned forms, so that every block free() sees was counted. */
void *memalign(size_t align, size_t n) { return counted_block(__libc_memalign(align, n)); }
void *aligned_alloc(size_t align, size_t n) { return memalign(align, n); }
int posix_memalign(void **out, size_t align, size_t n)
{
    void *p = memalign(align, n);
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

/* strdup too, so that its allocation is counted however libc makes it. */
char *strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

void free(void *p)
{
    if (p == NULL)
        return;
    if (__atomic_load_n(&needle_len, __ATOMIC_ACQUIRE))
        scan(p, malloc_usable_size(p));
    __atomic_sub_fetch(&libc_live, 1, __ATOMIC_ACQ_REL);
    __libc_free(p);
}
#define RAW_MALLOC __libc_malloc
#define RAW_FREE __libc_free
#else
#include <stdlib.h>
#define RAW_MALLOC malloc
#define RAW_FREE free
#endif

#ifdef NS_BSSL_HOOKS
/* BoringSSL's hooks: a size prefix, and (the hooks' contract) the block is
 * zeroed before it goes back to the system. */
#define PREFIX 16

void *OPENSSL_memory_alloc(size_t size);
void OPENSSL_memory_free(void *ptr);
size_t OPENSSL_memory_get_size(void *ptr);

void *OPENSSL_memory_alloc(size_t size)
{
    if (should_fail() || size + PREFIX < size)
        return NULL;
    unsigned char *p = RAW_MALLOC(size + PREFIX);
    if (p == NULL)
        return NULL;
    *(size_t *)p = size;
    __atomic_add_fetch(&bssl_live, 1, __ATOMIC_ACQ_REL);
    return p + PREFIX;
}

void OPENSSL_memory_free(void *ptr)
{
    unsigned char *p = (unsigned char *)ptr - PREFIX;
    size_t size = *(size_t *)p;
    __atomic_sub_fetch(&bssl_live, 1, __ATOMIC_ACQ_REL);
    memset(p, 0, size + PREFIX);
    __asm__ __volatile__("" : : "r"(p) : "memory");
    RAW_FREE(p);
}

size_t OPENSSL_memory_get_size(void *ptr)
{
    return *(size_t *)((unsigned char *)ptr - PREFIX);
}
#endif
