/* A reference count that threads share (C11 atomics): the holders made once
 * and then shared (the verifier, TLS configurations, key logs, identity
 * sets, ECH keys, verdicts, connect.c's lookups) count their owners with it. */
#ifndef NS_REFCOUNT_H
#define NS_REFCOUNT_H

#include <stdatomic.h>

typedef struct {
    atomic_int n;
} ns_ref;

/* Starts the count at n (the owners the holder is made for). */
static inline void ns_ref_init(ns_ref *r, int n)
{
    atomic_init(&r->n, n);
}

/* One more owner; the caller already holds a reference, so nothing needs
 * ordering. */
static inline void ns_ref_get(ns_ref *r)
{
    atomic_fetch_add_explicit(&r->n, 1, memory_order_relaxed);
}

/* One owner fewer: 1 if that was the last, and the caller frees the holder
 * (acquire-release: every owner's writes happen before the free). */
static inline int ns_ref_put(ns_ref *r)
{
    return atomic_fetch_sub_explicit(&r->n, 1, memory_order_acq_rel) == 1;
}

#endif
