/* loop.h: the event loop: epoll for file descriptors, a binary heap of
 * timers. One thread owns it and everything registered with it. */
#ifndef SM_LOOP_H
#define SM_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sm_loop sm_loop;
typedef struct sm_io sm_io;

/* An fd watched by the loop; embed it in the owner's struct. */
struct sm_io {
    int fd;
    uint32_t events; /* EPOLLIN / EPOLLOUT currently requested */
    void (*on_event)(sm_io *io, uint32_t events);
};

typedef struct sm_timer {
    int64_t deadline_ms; /* monotonic */
    size_t heap_slot;    /* position in the heap + 1; 0 when not armed (so a zeroed timer is idle) */
    void (*fire)(struct sm_timer *t);
} sm_timer;

int sm_loop_new(sm_loop **out);
void sm_loop_free(sm_loop *l);

int sm_loop_add(sm_loop *l, sm_io *io, uint32_t events);
int sm_loop_mod(sm_loop *l, sm_io *io, uint32_t events);
void sm_loop_del(sm_loop *l, sm_io *io);

void sm_timer_init(sm_timer *t, void (*fire)(sm_timer *t));
/* Arms (or re-arms) t to fire at the monotonic time deadline_ms. */
int sm_timer_arm(sm_loop *l, sm_timer *t, int64_t deadline_ms);
void sm_timer_cancel(sm_loop *l, sm_timer *t);
static inline bool sm_timer_armed(const sm_timer *t) { return t->heap_slot != 0; }

/* Waits for events up to max_wait_ms (or the next timer) and dispatches
 * them and any due timers. Returns the number of events handled, or -1 on
 * an epoll failure other than EINTR. */
int sm_loop_run_once(sm_loop *l, int max_wait_ms);

#endif
