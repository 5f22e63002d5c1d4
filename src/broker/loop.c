/* loop.c: epoll_wait with a timeout taken from the earliest timer. Timers
 * live in a binary min-heap whose entries know their index, so cancelling
 * is O(log n) and a fired timer may re-arm itself. */
#include "broker/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"

struct sm_loop {
    int epfd;
    sm_timer **heap;
    size_t n, cap;
};

int sm_loop_new(sm_loop **out)
{
    sm_loop *l = calloc(1, sizeof *l);
    if (!l)
        return SM_ENOMEM;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        free(l);
        return SM_EIO;
    }
    *out = l;
    return SM_OK;
}

void sm_loop_free(sm_loop *l)
{
    if (!l)
        return;
    close(l->epfd);
    free(l->heap);
    free(l);
}

int sm_loop_add(sm_loop *l, sm_io *io, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};
    io->events = events;
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev) ? SM_EIO : SM_OK;
}

int sm_loop_mod(sm_loop *l, sm_io *io, uint32_t events)
{
    if (io->events == events)
        return SM_OK;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    io->events = events;
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) ? SM_EIO : SM_OK;
}

void sm_loop_del(sm_loop *l, sm_io *io) { epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL); }

void sm_timer_init(sm_timer *t, void (*fire)(sm_timer *t))
{
    t->deadline_ms = 0;
    t->heap_slot = 0;
    t->fire = fire;
}

static void heap_set(sm_loop *l, size_t i, sm_timer *t)
{
    l->heap[i] = t;
    t->heap_slot = i + 1;
}

static void sift_up(sm_loop *l, size_t i)
{
    sm_timer *t = l->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (l->heap[parent]->deadline_ms <= t->deadline_ms)
            break;
        heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    heap_set(l, i, t);
}

static void sift_down(sm_loop *l, size_t i)
{
    sm_timer *t = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->n)
            break;
        if (c + 1 < l->n && l->heap[c + 1]->deadline_ms < l->heap[c]->deadline_ms)
            c++;
        if (t->deadline_ms <= l->heap[c]->deadline_ms)
            break;
        heap_set(l, i, l->heap[c]);
        i = c;
    }
    heap_set(l, i, t);
}

void sm_timer_cancel(sm_loop *l, sm_timer *t)
{
    if (!sm_timer_armed(t))
        return;
    size_t i = t->heap_slot - 1;
    t->heap_slot = 0;
    l->n--;
    if (i == l->n)
        return;
    sm_timer *moved = l->heap[l->n];
    heap_set(l, i, moved);
    sift_down(l, i);
    sift_up(l, moved->heap_slot - 1);
}

int sm_timer_arm(sm_loop *l, sm_timer *t, int64_t deadline_ms)
{
    sm_timer_cancel(l, t);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        sm_timer **h = realloc(l->heap, cap * sizeof *h);
        if (!h)
            return SM_ENOMEM;
        l->heap = h;
        l->cap = cap;
    }
    t->deadline_ms = deadline_ms;
    heap_set(l, l->n++, t);
    sift_up(l, l->n - 1);
    return SM_OK;
}

static void run_timers(sm_loop *l)
{
    int64_t now = sm_mono_ms();
    while (l->n && l->heap[0]->deadline_ms <= now) {
        sm_timer *t = l->heap[0];
        sm_timer_cancel(l, t);
        t->fire(t);
    }
}

int sm_loop_run_once(sm_loop *l, int max_wait_ms)
{
    int timeout = max_wait_ms;
    if (l->n) {
        int64_t until = l->heap[0]->deadline_ms - sm_mono_ms();
        if (until < 0)
            until = 0;
        if (timeout < 0 || until < timeout)
            timeout = (int)until;
    }
    struct epoll_event evs[128];
    int n = epoll_wait(l->epfd, evs, 128, timeout);
    if (n < 0) {
        if (errno != EINTR)
            return -1;
        n = 0;
    }
    for (int i = 0; i < n; i++) {
        sm_io *io = evs[i].data.ptr;
        io->on_event(io, evs[i].events);
    }
    run_timers(l);
    return n;
}
