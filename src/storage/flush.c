/* flush.c: the flusher thread: group commit for acks=all.
 *
 * The one idea: a log asks for a flush by adding what is not yet covered
 * (segments holding unsynced bytes, each with a reference, and the
 * directory if a segment file was created) to its `pending` set and joining
 * the queue; the thread takes the whole queue at once, swaps each log's
 * pending set for its `running` set, and syncs without the lock. Requests
 * arriving meanwhile build the next round's pending sets, so however many
 * producers wait, each file gets at most one fdatasync per round.
 *
 * Who touches what: the queue, the done list, and each log's pending set
 * and flags (queued, busy, in_done, closed, done_*) are under `mu`; a log's
 * running set belongs to the thread while `busy`. Everything else in the
 * log belongs to the event-loop thread. A log closed while queued, busy or
 * waiting to be collected is marked `closed` and freed by the loop thread
 * once the thread is done with it (in sm_flusher_collect or _free); the
 * segments in a set stay open through their references. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/fsync.h"
#include "base/err.h"
#include "base/log.h"
#include "storage/log_int.h"

struct sm_flusher {
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int efd;
    /* under mu */
    bool stop;
    sm_plog *q_head, *q_tail;
    sm_plog *done_head, *done_tail;
    sm_flusher_stats stats;
    /* loop thread */
    sm_plog *attached;
};

static void atomic_max64(_Atomic int64_t *x, int64_t v)
{
    int64_t cur = atomic_load_explicit(x, memory_order_relaxed);
    while (cur < v && !atomic_compare_exchange_weak(x, &cur, v)) {
    }
}

static void notify(sm_flusher *f)
{
    uint64_t one = 1;
    ssize_t w = write(f->efd, &one, sizeof one);
    (void)w; /* EAGAIN only if the counter is saturated: it is readable then anyway */
}

/* mu held */
static void push_done(sm_flusher *f, sm_plog *l)
{
    if (l->in_done)
        return;
    l->in_done = true;
    l->done_next = NULL;
    if (f->done_tail)
        f->done_tail->done_next = l;
    else
        f->done_head = l;
    f->done_tail = l;
}

/* ---- the thread --------------------------------------------------------------- */

/* Syncs one log's running set; returns SM_OK or SM_EIO. No lock held. */
static int sync_set(sm_plog *l, uint64_t *nsync)
{
    sm_flush_set *set = &l->running;
    /* after a failed fsync a later one may succeed without the lost pages
     * ever reaching the disk: nothing is vouched for again */
    int rc = atomic_load(&l->io_failed) ? SM_EIO : SM_OK;
    int64_t rp_base = -1, rp_pos = 0; /* the newest segment synced, and how far */
    for (int i = 0; i < set->n; i++)
        if (set->v[i].seg->base_offset > rp_base) {
            rp_base = set->v[i].seg->base_offset;
            rp_pos = set->v[i].size;
        }
    for (int i = 0; i < set->n; i++) {
        sm_segment *s = set->v[i].seg;
        if (rc == SM_OK) {
            (*nsync)++;
            if (sm_seg_sync_log(s) == SM_OK) {
                atomic_max64(&s->synced_size, set->v[i].size);
            } else {
                sm_error("fdatasync of %s.log failed: %s", s->path, strerror(errno));
                atomic_store(&l->io_failed, true);
                rc = SM_EIO;
            }
        }
        if (rc == SM_OK && set->v[i].indexes && !atomic_load(&l->rp_off)) {
            *nsync += 2;
            if (sm_seg_sync_index(s) != SM_OK) {
                /* only a cache, but the recovery point vouches for it */
                sm_error("fdatasync of %s.index failed: %s; the recovery point stays where it is",
                         s->path, strerror(errno));
                atomic_store(&l->rp_off, true);
            }
        }
        sm_seg_unref(s);
        set->v[i].seg = NULL;
    }
    set->n = 0;
    if (rc == SM_OK && set->dir_gen > atomic_load(&l->dir_synced_gen)) {
        (*nsync)++;
        if (sm_plog_fsync_dir_(l) == SM_OK) {
            atomic_max64(&l->dir_synced_gen, set->dir_gen);
        } else {
            sm_error("fsync of directory %s failed: %s", l->dir, strerror(errno));
            atomic_store(&l->io_failed, true);
            rc = SM_EIO;
        }
    }
    if (rc == SM_OK && set->parent) {
        (*nsync)++;
        if (sm_fsync_dir(l->parent) == SM_OK) {
            atomic_store(&l->parent_synced, true);
        } else {
            sm_error("fsync of directory %s failed: %s", l->parent, strerror(errno));
            atomic_store(&l->io_failed, true);
            rc = SM_EIO;
        }
    }
    if (rc == SM_OK && rp_base >= 0)
        sm_plog_write_recovery_point_(l, rp_base, rp_pos, false);
    return rc;
}

static void *flusher_main(void *arg)
{
    sm_flusher *f = arg;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (!f->q_head && !f->stop)
            pthread_cond_wait(&f->cv, &f->mu);
        if (!f->q_head)
            break; /* stopping, and every request taken was served */
        /* the whole queue is this round; what arrives from now on is the next */
        sm_plog *round = f->q_head;
        f->q_head = f->q_tail = NULL;
        for (sm_plog *l = round; l; l = l->q_next) {
            l->queued = false;
            l->busy = true;
            sm_flush_set t = l->running; /* empty: its items were released last round */
            l->running = l->pending;
            l->pending = t;
            l->pending.n = 0;
            l->pending.target = 0;
            l->pending.dir_gen = 0;
            l->pending.parent = false;
            l->round_next = l->q_next; /* q_next is the loop's again once unlocked */
        }
        pthread_mutex_unlock(&f->mu);

        uint64_t nsync = 0;
        for (sm_plog *l = round; l; l = l->round_next)
            l->round_rc = sync_set(l, &nsync);

        pthread_mutex_lock(&f->mu);
        f->stats.rounds++;
        f->stats.syncs += nsync;
        for (sm_plog *l = round, *next; l; l = next) {
            next = l->round_next;
            l->busy = false;
            if (l->round_rc != SM_OK)
                l->done_rc = l->round_rc;
            else if (l->running.target > l->done_target)
                l->done_target = l->running.target;
            push_done(f, l); /* l may be freed by the loop from here on */
        }
        pthread_mutex_unlock(&f->mu);
        notify(f);
        pthread_mutex_lock(&f->mu);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* ---- the loop's side ---------------------------------------------------------- */

int sm_flusher_new(sm_flusher **out, char *err, size_t errlen)
{
    sm_flusher *f = calloc(1, sizeof *f);
    if (!f)
        return sm_fail(err, errlen, SM_ENOMEM, "out of memory");
    f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (f->efd < 0) {
        int e = errno;
        free(f);
        return sm_fail(err, errlen, SM_EIO, "eventfd: %s", strerror(e));
    }
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    /* the thread takes no signals: they belong to the loop's signalfd */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&f->thread, NULL, flusher_main, f);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        close(f->efd);
        pthread_mutex_destroy(&f->mu);
        pthread_cond_destroy(&f->cv);
        free(f);
        return sm_fail(err, errlen, SM_ERR, "cannot start the flusher thread: %s", strerror(rc));
    }
    f->started = true;
    *out = f;
    return SM_OK;
}

int sm_flusher_fd(const sm_flusher *f) { return f->efd; }

void sm_flusher_stats_get(sm_flusher *f, sm_flusher_stats *out)
{
    pthread_mutex_lock(&f->mu);
    *out = f->stats;
    pthread_mutex_unlock(&f->mu);
}

static void attach(sm_flusher *f, sm_plog *l)
{
    l->flusher = f;
    l->att_prev = NULL;
    l->att_next = f->attached;
    if (f->attached)
        f->attached->att_prev = l;
    f->attached = l;
}

static void detach(sm_flusher *f, sm_plog *l)
{
    if (l->att_prev)
        l->att_prev->att_next = l->att_next;
    else
        f->attached = l->att_next;
    if (l->att_next)
        l->att_next->att_prev = l->att_prev;
    l->att_prev = l->att_next = NULL;
    l->flusher = NULL;
}

/* mu held: s joins the pending set (or widens its entry). */
static int pending_add(sm_flush_set *p, sm_segment *s, int64_t size, bool indexes)
{
    for (int i = 0; i < p->n; i++)
        if (p->v[i].seg == s) {
            p->v[i].size = size;
            p->v[i].indexes |= indexes;
            return SM_OK;
        }
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 4;
        sm_flush_item *v = realloc(p->v, (size_t)cap * sizeof *v);
        if (!v)
            return SM_ENOMEM;
        p->v = v;
        p->cap = cap;
    }
    sm_seg_ref(s);
    p->v[p->n++] = (sm_flush_item){s, size, indexes};
    return SM_OK;
}

void sm_flusher_request(sm_flusher *f, sm_plog *l)
{
    if (!l->flusher)
        attach(f, l);
    pthread_mutex_lock(&f->mu);
    f->stats.requests++;
    bool offline = sm_plog_offline_(l);
    if (offline || l->durable_offset >= l->end_offset) {
        /* nothing to wait for (or nothing that could succeed): answer through
         * collect, so the callback never runs inside a request */
        if (offline)
            l->done_rc = SM_EIO;
        else if (l->durable_offset > l->done_target)
            l->done_target = l->durable_offset;
        push_done(f, l);
        pthread_mutex_unlock(&f->mu);
        notify(f);
        return;
    }
    sm_flush_set *p = &l->pending;
    /* segments with bytes (or final index files) no flush covers yet; they
     * are a suffix of the log, since every request covers all of them */
    for (int i = l->nseg - 1; i >= 0; i--) {
        sm_segment *s = l->segs[i];
        if (s->size <= s->scheduled_size && !s->index_unsynced) {
            if (s->size > 0)
                break;
            continue;
        }
        if (pending_add(p, s, s->size, s->index_unsynced) != SM_OK) {
            sm_error("%s: out of memory queueing a flush", l->dir);
            l->done_rc = SM_EIO;
            push_done(f, l);
            pthread_mutex_unlock(&f->mu);
            notify(f);
            return;
        }
        s->scheduled_size = s->size;
        s->index_unsynced = false;
    }
    if (l->dir_gen > l->dir_sched_gen) {
        p->dir_gen = l->dir_gen;
        l->dir_sched_gen = l->dir_gen;
    }
    if (l->new_dir && !l->parent_sched && !atomic_load(&l->parent_synced)) {
        p->parent = true;
        l->parent_sched = true;
    }
    p->target = l->end_offset;
    if (!l->queued) {
        l->queued = true;
        l->q_next = NULL;
        if (f->q_tail)
            f->q_tail->q_next = l;
        else
            f->q_head = l;
        f->q_tail = l;
        pthread_cond_signal(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
}

void sm_flusher_collect(sm_flusher *f, sm_flush_done_cb cb, void *arg)
{
    uint64_t v;
    ssize_t r = read(f->efd, &v, sizeof v);
    (void)r;
    /* one log at a time, lock released around the callback: it may request
     * flushes or close logs, including ones still on the done list */
    for (;;) {
        pthread_mutex_lock(&f->mu);
        sm_plog *l = f->done_head;
        if (!l) {
            pthread_mutex_unlock(&f->mu);
            return;
        }
        f->done_head = l->done_next;
        if (!f->done_head)
            f->done_tail = NULL;
        l->in_done = false;
        int64_t target = l->done_target;
        int rc = l->done_rc;
        l->done_rc = SM_OK;
        bool gone = l->closed && !l->queued && !l->busy;
        pthread_mutex_unlock(&f->mu);
        if (l->closed) {
            if (gone) {
                detach(f, l);
                sm_plog_free_(l);
            }
            continue;
        }
        if (rc != SM_OK || sm_plog_offline_(l)) {
            if (!l->failed) {
                l->failed = true;
                snprintf(l->failed_why, sizeof l->failed_why,
                         "an fsync failed; what it covered may not be on disk (restart to recover)");
            }
            cb(l, l->durable_offset, SM_EIO, arg);
            continue;
        }
        if (target > l->durable_offset)
            l->durable_offset = target;
        cb(l, l->durable_offset, SM_OK, arg);
    }
}

bool sm_flusher_detach_(sm_plog *l)
{
    sm_flusher *f = l->flusher;
    if (!f)
        return false;
    pthread_mutex_lock(&f->mu);
    bool busy = l->queued || l->busy || l->in_done;
    if (busy)
        l->closed = true;
    pthread_mutex_unlock(&f->mu);
    if (!busy)
        detach(f, l);
    return busy;
}

void sm_flusher_free(sm_flusher *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (f->started)
        pthread_join(f->thread, NULL);
    /* single-threaded from here: results nobody will collect are dropped,
     * logs closed while in flight are freed, open ones forget this flusher */
    for (sm_plog *l = f->done_head, *next; l; l = next) {
        next = l->done_next;
        l->in_done = false;
    }
    f->done_head = f->done_tail = NULL;
    for (sm_plog *l = f->attached, *next; l; l = next) {
        next = l->att_next;
        bool closed = l->closed;
        detach(f, l);
        if (closed)
            sm_plog_free_(l);
    }
    close(f->efd);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}
