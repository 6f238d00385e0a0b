/* The selector: one-shot readability watches with per-socket timeouts, on
 * epoll, with timeouts in a binary min-heap so a wait costs O(ready + log n),
 * not O(registered). */
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
    int64_t deadline;  /* -1 = none */
    size_t heap_pos;   /* NO_HEAP when not in the heap */
    size_t next_free;
} slot;

typedef struct {
    ns_socket *socket;
    void *data;
    int timed_out;
} event;

struct ns_selector {
    int epfd, wakefd;
    slot *slots;
    size_t nslots, count, free_head;
    size_t *heap; /* slot indices ordered by deadline */
    size_t heap_len;
    size_t *ready; /* slots readable at once (TLS bytes already buffered) */
    size_t ready_len;
    event *events;
    size_t nevents, events_cap;
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

static void release_slot(ns_selector *sel, size_t idx)
{
    slot *sl = &sel->slots[idx];
    ns_socket *s = sl->socket;
    heap_remove(sel, idx);
    for (size_t i = 0; i < sel->ready_len; i++) {
        if (sel->ready[i] == idx) {
            sel->ready[i] = sel->ready[--sel->ready_len];
            break;
        }
    }
    if (s->fd >= 0)
        epoll_ctl(sel->epfd, EPOLL_CTL_DEL, s->fd, NULL);
    s->selector = NULL;
    sl->socket = NULL;
    sl->data = NULL;
    sl->next_free = sel->free_head;
    sel->free_head = idx;
    sel->count--;
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
            sel->slots[i].socket->selector = NULL;
    close(sel->epfd);
    close(sel->wakefd);
    free(sel->slots);
    free(sel->heap);
    free(sel->ready);
    free(sel->events);
    free(sel);
}

static int has_buffered_tls(const ns_socket *s)
{
    return s->ssl != NULL && (SSL_pending(s->ssl) > 0 || SSL_has_pending(s->ssl) ||
                              ns_bio_pending(SSL_get_rbio(s->ssl)) > 0);
}

int ns_selector_add(ns_selector *sel, ns_socket *s, int64_t timeout_us, void *data)
{
    NS_CHECK_HANDLE(sel, "selector add");
    int rc = ns_check_open(s, "selector add of");
    if (rc != NS_OK)
        return rc;
    if (s->selector == sel) /* re-adding replaces timeout and data */
        release_slot(sel, s->selector_slot);
    else if (s->selector != NULL)
        return ns_fail_io(s, NS_ERR_INVALID, 0, "selector add of", "already in another selector");
    size_t idx;
    if ((rc = reserve_slot(sel, &idx)) != NS_OK)
        return rc;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = idx};
    if (epoll_ctl(sel->epfd, EPOLL_CTL_ADD, s->fd, &ev) != 0) {
        int err = errno;
        sel->slots[idx].next_free = sel->free_head;
        sel->free_head = idx;
        return ns_fail(err == ENOMEM || err == ENOSPC ? NS_ERR_NOMEM : NS_ERR_INVALID, err,
                       "selector add of %s: %s", s->peer_label, strerror(err));
    }
    slot *sl = &sel->slots[idx];
    sl->socket = s;
    sl->data = data;
    sl->deadline = ns_deadline_after(timeout_us);
    sl->heap_pos = NO_HEAP;
    s->selector = sel;
    s->selector_slot = idx;
    sel->count++;
    if (sl->deadline >= 0) {
        sl->heap_pos = sel->heap_len;
        sel->heap[sel->heap_len++] = idx;
        heap_fix(sel, sl->heap_pos);
    }
    if (has_buffered_tls(s))
        sel->ready[sel->ready_len++] = idx;
    return NS_OK;
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

void ns_selector_forget(ns_socket *s)
{
    if (s->selector)
        release_slot(s->selector, s->selector_slot);
}

/* Records an event for slot idx and takes the socket out of the selector. */
static int report(ns_selector *sel, size_t idx, int timed_out)
{
    if (grow((void **)&sel->events, &sel->events_cap, sel->nevents + 1, sizeof *sel->events) !=
        NS_OK)
        return NS_ERR_NOMEM;
    slot *sl = &sel->slots[idx];
    sel->events[sel->nevents++] = (event){sl->socket, sl->data, timed_out};
    release_slot(sel, idx);
    return NS_OK;
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

int ns_selector_wait(ns_selector *sel, int64_t timeout_us)
{
    NS_CHECK_HANDLE(sel, "selector wait");
    sel->nevents = 0;
    int64_t deadline = ns_deadline_after(timeout_us);
    int rc = NS_OK;
    while (sel->ready_len > 0 && rc == NS_OK)
        rc = report(sel, sel->ready[0], 0);
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
                rc = report(sel, (size_t)token, 0);
            }
        }
        int64_t now = ns_now_us();
        while (rc == NS_OK && sel->heap_len > 0 && sel->slots[sel->heap[0]].deadline <= now)
            rc = report(sel, sel->heap[0], 1);
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

int ns_selector_interrupt(ns_selector *sel)
{
    NS_CHECK_HANDLE(sel, "selector interrupt");
    uint64_t one = 1;
    if (write(sel->wakefd, &one, sizeof one) < 0 && errno != EAGAIN)
        return ns_fail(NS_ERR_IO, errno, "selector interrupt: %s", strerror(errno));
    return NS_OK;
}

size_t ns_selector_count(const ns_selector *sel) { return sel ? sel->count : 0; }
