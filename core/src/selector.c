/* The selector: one-shot readability watches (ns_selector_add) and
 * persistent read/write watches with selector-owned data
 * (ns_selector_watch), with per-socket timeouts, on epoll, with timeouts in
 * a binary min-heap so a wait costs O(ready + log n), not O(registered).
 * TLS sockets that can be read without the fd (bytes already buffered,
 * tls.c decides) sit on a short ready list, rechecked at each wait. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

#define NO_HEAP ((size_t)-1)
#define EPOLL_BATCH 256
#define WAKE_TOKEN UINT64_MAX

typedef struct {
    ns_socket *socket; /* NULL = free slot */
    void *data;
    ns_release_function release; /* owned data (watch), else NULL */
    int interest;      /* NS_WANT_* bits */
    int persistent;    /* watch: stays after its events */
    int on_ready;      /* in the ready list */
    int64_t timeout;   /* watch: the idle timeout each event restarts */
    int64_t deadline;  /* -1 = none */
    size_t heap_pos;   /* NO_HEAP when not in the heap */
    size_t next_free;
    uint64_t event_gen; /* the wait that last reported it, at event_pos */
    size_t event_pos;
} slot;

typedef struct {
    ns_socket *socket;
    void *data;
    int timed_out;
    int ready;         /* NS_WANT_* bits */
} event;

struct ns_selector {
    int epfd, wakefd;
    slot *slots;
    size_t nslots, count, free_head;
    size_t *heap; /* slot indices ordered by deadline */
    size_t heap_len;
    size_t *ready; /* slots that may be readable without the fd (TLS) */
    size_t ready_len;
    event *events;
    size_t nevents, events_cap;
    uint64_t gen;  /* counts waits */
};

/* ---- the deadline heap ---- */

static int earlier(const ns_selector *sel, size_t a, size_t b)
{
    return sel->slots[sel->heap[a]].deadline < sel->slots[sel->heap[b]].deadline;
}

static void heap_swap(ns_selector *sel, size_t a, size_t b)
{
    size_t t = sel->heap[a];
    sel->heap[a] = sel->heap[b];
    sel->heap[b] = t;
    sel->slots[sel->heap[a]].heap_pos = a;
    sel->slots[sel->heap[b]].heap_pos = b;
}

static void heap_fix(ns_selector *sel, size_t i)
{
    while (i > 0 && earlier(sel, i, (i - 1) / 2)) {
        heap_swap(sel, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < sel->heap_len && earlier(sel, l, m))
            m = l;
        if (r < sel->heap_len && earlier(sel, r, m))
            m = r;
        if (m == i)
            return;
        heap_swap(sel, i, m);
        i = m;
    }
}

static void heap_remove(ns_selector *sel, size_t idx)
{
    size_t pos = sel->slots[idx].heap_pos;
    if (pos == NO_HEAP)
        return;
    sel->slots[idx].heap_pos = NO_HEAP;
    if (--sel->heap_len == pos)
        return;
    sel->heap[pos] = sel->heap[sel->heap_len];
    sel->slots[sel->heap[pos]].heap_pos = pos;
    heap_fix(sel, pos);
}

/* Puts slot idx in the heap at `deadline`, or takes it out (-1). */
static void heap_set(ns_selector *sel, size_t idx, int64_t deadline)
{
    slot *sl = &sel->slots[idx];
    heap_remove(sel, idx);
    sl->deadline = deadline;
    if (deadline < 0)
        return;
    sl->heap_pos = sel->heap_len;
    sel->heap[sel->heap_len++] = idx;
    heap_fix(sel, sl->heap_pos);
}

/* ---- slots ---- */

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return NS_OK;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    void *n = realloc(*arr, ncap * elem);
    if (n == NULL)
        return ns_fail(NS_ERR_NOMEM, ENOMEM, "selector: out of memory");
    *arr = n;
    *cap = ncap;
    return NS_OK;
}

static int reserve_slot(ns_selector *sel, size_t *idx)
{
    if (sel->free_head != NO_HEAP) {
        *idx = sel->free_head;
        sel->free_head = sel->slots[*idx].next_free;
        return NS_OK;
    }
    size_t cap = sel->nslots;
    int rc = grow((void **)&sel->slots, &cap, sel->nslots + 1, sizeof *sel->slots);
    /* The heap and the ready list never hold more entries than slots. */
    size_t hcap = sel->nslots, rcap = sel->nslots;
    if (rc == NS_OK)
        rc = grow((void **)&sel->heap, &hcap, cap, sizeof *sel->heap);
    if (rc == NS_OK)
        rc = grow((void **)&sel->ready, &rcap, cap, sizeof *sel->ready);
    if (rc != NS_OK)
        return rc;
    for (size_t i = sel->nslots; i < cap; i++) {
        sel->slots[i] = (slot){.heap_pos = NO_HEAP, .next_free = i + 1 < cap ? i + 1 : NO_HEAP};
    }
    sel->free_head = sel->nslots;
    sel->nslots = cap;
    return reserve_slot(sel, idx);
}

static void ready_push(ns_selector *sel, size_t idx)
{
    if (!sel->slots[idx].on_ready) {
        sel->slots[idx].on_ready = 1;
        sel->ready[sel->ready_len++] = idx;
    }
}

/* Takes ready[i] off the list (the last entry moves into its place). */
static void ready_cut(ns_selector *sel, size_t i)
{
    sel->slots[sel->ready[i]].on_ready = 0;
    sel->ready[i] = sel->ready[--sel->ready_len];
}

static void ready_remove(ns_selector *sel, size_t idx)
{
    for (size_t i = 0; sel->slots[idx].on_ready && i < sel->ready_len; i++)
        if (sel->ready[i] == idx)
            ready_cut(sel, i);
}

/* Takes slot idx's socket out of the selector, then releases owned data
 * (last, as a release function may do anything but free that socket). */
static void release_slot(ns_selector *sel, size_t idx)
{
    slot *sl = &sel->slots[idx];
    ns_socket *s = sl->socket;
    ns_release_function release = sl->release;
    void *data = sl->data;
    heap_remove(sel, idx);
    ready_remove(sel, idx);
    if (s->fd >= 0)
        epoll_ctl(sel->epfd, EPOLL_CTL_DEL, s->fd, NULL);
    s->selector = NULL;
    *sl = (slot){.heap_pos = NO_HEAP, .next_free = sel->free_head};
    sel->free_head = idx;
    sel->count--;
    if (release)
        release(data);
}

/* ---- public ---- */

ns_selector *ns_selector_new(void)
{
    ns_selector *sel = calloc(1, sizeof *sel);
    if (sel == NULL) {
        ns_fail(NS_ERR_NOMEM, ENOMEM, "selector: out of memory");
        return NULL;
    }
    sel->free_head = NO_HEAP;
    sel->epfd = epoll_create1(EPOLL_CLOEXEC);
    sel->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TOKEN};
    if (sel->epfd < 0 || sel->wakefd < 0 ||
        epoll_ctl(sel->epfd, EPOLL_CTL_ADD, sel->wakefd, &ev) != 0) {
        ns_fail(ns_status_from_errno(errno), errno, "selector: cannot create: %s", strerror(errno));
        if (sel->epfd >= 0)
            close(sel->epfd);
        if (sel->wakefd >= 0)
            close(sel->wakefd);
        free(sel);
        return NULL;
    }
    return sel;
}

void ns_selector_free(ns_selector *sel)
{
    if (sel == NULL)
        return;
    for (size_t i = 0; i < sel->nslots; i++)
        if (sel->slots[i].socket)
            release_slot(sel, i);
    close(sel->epfd);
    close(sel->wakefd);
    free(sel->slots);
    free(sel->heap);
    free(sel->ready);
    free(sel->events);
    free(sel);
}

static uint32_t epoll_events_of(int interest)
{
    return (interest & NS_WANT_READ ? EPOLLIN | EPOLLRDHUP : 0) |
           (interest & NS_WANT_WRITE ? EPOLLOUT : 0);
}

/* Watches s in sel (a new slot, or its slot updated in place); on failure
 * s stays as it was and owned data not yet the selector's is released, as
 * ns_selector_watch promises. */
static int place(ns_selector *sel, ns_socket *s, int interest, int64_t timeout_us, void *data,
                 ns_release_function release, int persistent, const char *what)
{
    int rc = sel == NULL ? ns_fail(NS_ERR_INVALID, 0, "%s: NULL selector", what)
                         : ns_check_open(s, what);
    if (rc == NS_OK && s->selector != NULL && s->selector != sel)
        rc = ns_fail_io(s, NS_ERR_INVALID, 0, what, "already in another selector");
    if (rc == NS_OK && (interest == 0 || (interest & ~(NS_WANT_READ | NS_WANT_WRITE))))
        rc = ns_fail_io(s, NS_ERR_INVALID, 0, what,
                        "interest must be NS_WANT_READ, NS_WANT_WRITE or both");
    size_t idx = s && s->selector == sel ? s->selector_slot : NO_HEAP;
    if (rc == NS_OK && idx == NO_HEAP)
        rc = reserve_slot(sel, &idx);
    if (rc == NS_OK) {
        int op = s->selector == sel ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        struct epoll_event ev = {.events = epoll_events_of(interest), .data.u64 = idx};
        if (epoll_ctl(sel->epfd, op, s->fd, &ev) != 0) {
            int err = errno;
            if (op == EPOLL_CTL_ADD) {
                sel->slots[idx].next_free = sel->free_head;
                sel->free_head = idx;
            }
            rc = ns_fail(err == ENOMEM || err == ENOSPC ? NS_ERR_NOMEM : NS_ERR_INVALID, err,
                         "%s %s: %s", what, s->peer_label, strerror(err));
        }
    }
    if (rc != NS_OK) {
        /* A failure changes nothing: data the selector already holds for s
         * stays its own (released when s leaves); other data is the
         * caller's to let go of, so release it now. */
        int already_owned = s && sel && s->selector == sel &&
                            sel->slots[s->selector_slot].data == data;
        if (release && !already_owned)
            release(data);
        return rc;
    }
    slot *sl = &sel->slots[idx];
    ns_release_function old_release = sl->socket && sl->data != data ? sl->release : NULL;
    void *old_data = sl->data;
    if (sl->socket == NULL) {
        sl->socket = s;
        s->selector = sel;
        s->selector_slot = idx;
        sel->count++;
    }
    sl->data = data;
    sl->release = release;
    sl->interest = interest;
    sl->persistent = persistent;
    sl->timeout = timeout_us;
    heap_set(sel, idx, ns_deadline_after(timeout_us));
    if ((interest & NS_WANT_READ) && ns_tls_readable_now(s))
        ready_push(sel, idx);
    else
        ready_remove(sel, idx);
    if (old_release)
        old_release(old_data);
    return NS_OK;
}

int ns_selector_add(ns_selector *sel, ns_socket *s, int64_t timeout_us, void *data)
{
    return place(sel, s, NS_WANT_READ, timeout_us, data, NULL, 0, "selector add of");
}

int ns_selector_watch(ns_selector *sel, ns_socket *s, int interest, int64_t timeout_us,
                      void *data, ns_release_function release)
{
    return place(sel, s, interest, timeout_us, data, release, 1, "selector watch of");
}

int ns_selector_remove(ns_selector *sel, ns_socket *s)
{
    NS_CHECK_HANDLE(sel, "selector remove");
    NS_CHECK_HANDLE(s, "selector remove");
    if (s->selector != sel)
        return ns_fail_io(s, NS_ERR_INVALID, 0, "selector remove of", "not in this selector");
    release_slot(sel, s->selector_slot);
    return NS_OK;
}

void *ns_selector_data(const ns_selector *sel, const ns_socket *s)
{
    return sel && s && s->selector == sel ? sel->slots[s->selector_slot].data : NULL;
}

void ns_selector_forget(ns_socket *s)
{
    if (s->selector)
        release_slot(s->selector, s->selector_slot);
}

/* Records that slot idx is ready for `ready` (or timed out): one event per
 * socket and wait.  A one-shot watch leaves the selector; a persistent one
 * restarts its idle timeout (none after a timeout) and, if TLS may have
 * more buffered, is rechecked at the next wait. */
static int report(ns_selector *sel, size_t idx, int ready, int timed_out)
{
    slot *sl = &sel->slots[idx];
    if (sl->event_gen == sel->gen) { /* already reported in this wait */
        sel->events[sl->event_pos].ready |= ready;
        if (timed_out)
            heap_set(sel, idx, -1);
        return NS_OK;
    }
    if (grow((void **)&sel->events, &sel->events_cap, sel->nevents + 1, sizeof *sel->events) !=
        NS_OK)
        return NS_ERR_NOMEM;
    sel->events[sel->nevents] = (event){sl->socket, sl->data, timed_out, ready};
    if (!sl->persistent) {
        sel->nevents++;
        release_slot(sel, idx);
        return NS_OK;
    }
    sl->event_gen = sel->gen;
    sl->event_pos = sel->nevents++;
    heap_set(sel, idx, timed_out ? -1 : ns_deadline_after(sl->timeout));
    if ((ready & NS_WANT_READ) && sl->socket->ssl)
        ready_push(sel, idx);
    return NS_OK;
}

/* The NS_WANT_* bits an epoll event means for a slot's interest. */
static int ready_of(uint32_t events, int interest)
{
    int ready = 0;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        ready |= NS_WANT_READ;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        ready |= NS_WANT_WRITE;
    return ready & interest;
}

static int64_t wait_budget(const ns_selector *sel, int64_t deadline)
{
    int64_t until = deadline;
    if (sel->heap_len > 0) {
        int64_t first = sel->slots[sel->heap[0]].deadline;
        if (until < 0 || first < until)
            until = first;
    }
    return until;
}

/* Reports the ready list's sockets that can still be read without the fd
 * and drops the others (a partial TLS record waits for the fd).  Walks
 * backwards: a cut moves an entry already seen into place. */
static int report_buffered(ns_selector *sel)
{
    int rc = NS_OK;
    for (size_t i = sel->ready_len; i-- > 0 && rc == NS_OK;) {
        size_t idx = sel->ready[i];
        if (ns_tls_readable_now(sel->slots[idx].socket))
            rc = report(sel, idx, NS_WANT_READ, 0);
        else
            ready_cut(sel, i);
    }
    return rc;
}

int ns_selector_wait(ns_selector *sel, int64_t timeout_us)
{
    NS_CHECK_HANDLE(sel, "selector wait");
    sel->nevents = 0;
    sel->gen++;
    int64_t deadline = ns_deadline_after(timeout_us);
    int rc = report_buffered(sel);
    for (;;) {
        struct epoll_event evs[EPOLL_BATCH];
        int ms = sel->nevents > 0 ? 0 : ns_poll_ms_left(wait_budget(sel, deadline));
        int n = epoll_wait(sel->epfd, evs, EPOLL_BATCH, ms);
        if (n < 0 && errno != EINTR)
            return ns_fail(NS_ERR_IO, errno, "selector wait: %s", strerror(errno));
        int woken = 0;
        for (int i = 0; i < n && rc == NS_OK; i++) {
            uint64_t token = evs[i].data.u64;
            if (token == WAKE_TOKEN) {
                uint64_t v;
                while (read(sel->wakefd, &v, sizeof v) > 0) {
                }
                woken = 1;
            } else if (token < sel->nslots && sel->slots[token].socket) {
                int ready = ready_of(evs[i].events, sel->slots[token].interest);
                if (ready)
                    rc = report(sel, (size_t)token, ready, 0);
            }
        }
        int64_t now = ns_now_us();
        while (rc == NS_OK && sel->heap_len > 0 && sel->slots[sel->heap[0]].deadline <= now)
            rc = report(sel, sel->heap[0], 0, 1);
        if (rc != NS_OK)
            return rc;
        if (sel->nevents > 0 || woken || (deadline >= 0 && now >= deadline))
            return (int)sel->nevents;
    }
}

static const event *event_at(const ns_selector *sel, int i)
{
    return sel && i >= 0 && (size_t)i < sel->nevents ? &sel->events[i] : NULL;
}

ns_socket *ns_selector_event_socket(const ns_selector *sel, int i)
{
    const event *e = event_at(sel, i);
    return e ? e->socket : NULL;
}

void *ns_selector_event_data(const ns_selector *sel, int i)
{
    const event *e = event_at(sel, i);
    return e ? e->data : NULL;
}

int ns_selector_event_timed_out(const ns_selector *sel, int i)
{
    const event *e = event_at(sel, i);
    return e ? e->timed_out : 0;
}

int ns_selector_event_ready(const ns_selector *sel, int i)
{
    const event *e = event_at(sel, i);
    return e ? e->ready : 0;
}

int ns_selector_interrupt(ns_selector *sel)
{
    NS_CHECK_HANDLE(sel, "selector interrupt");
    uint64_t one = 1;
    if (write(sel->wakefd, &one, sizeof one) < 0 && errno != EAGAIN)
        return ns_fail(NS_ERR_IO, errno, "selector interrupt: %s", strerror(errno));
    return NS_OK;
}

size_t ns_selector_count(const ns_selector *sel) { return sel ? sel->count : 0; }
