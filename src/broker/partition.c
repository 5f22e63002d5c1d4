/* partition.c: what waits on a partition: acks until the flusher makes the
 * log durable, data waiters until records are appended; both answered when
 * the partition is detached. The modules that park waiters (h_produce.c,
 * h_fetch.c, offsets.c) and the ones that complete them (broker.c's flush
 * completion, h_produce.c's appends, topics.c's close) meet only here. */
#include "broker/partition.h"

#include "base/err.h"
#include "base/log.h"
#include "broker/broker.h"
#include "broker/topics.h"
#include "storage/flush.h"

void sm_partition_init(sm_partition *p, sm_topic *t, int32_t index)
{
    p->topic = t;
    p->index = index;
    p->data_waiters.next = p->data_waiters.prev = &p->data_waiters;
    p->acks_head = p->acks_tail = NULL;
}

/* ---- durability -------------------------------------------------------------- */

void sm_partition_wait_durable(sm_broker *b, sm_partition *p, sm_ack_wait *aw)
{
    aw->next = NULL;
    aw->target = sm_plog_end_offset(p->log);
    if (p->acks_tail)
        p->acks_tail->next = aw;
    else
        p->acks_head = aw;
    p->acks_tail = aw;
    sm_flusher_request(b->flusher, p->log);
}

void sm_partition_flushed(sm_broker *b, sm_partition *p, int64_t durable, int rc)
{
    (void)b;
    if (rc != SM_OK && p->acks_head)
        sm_log_limited(SM_LOG_ERROR, "fsync of %s failed: the requests waiting on it are answered "
                       "with KAFKA_STORAGE_ERROR", sm_plog_dir(p->log));
    if (rc == SM_OK && durable < 0)
        return;
    while (p->acks_head && (rc != SM_OK || p->acks_head->target <= durable)) {
        sm_ack_wait *aw = p->acks_head;
        p->acks_head = aw->next;
        if (!p->acks_head)
            p->acks_tail = NULL;
        aw->done(aw, rc);
    }
}

/* ---- data waiters ------------------------------------------------------------- */

void sm_partition_wait_data(sm_partition *p, sm_data_wait *w)
{
    w->next = p->data_waiters.next;
    w->prev = &p->data_waiters;
    p->data_waiters.next->prev = w;
    p->data_waiters.next = w;
}

void sm_data_wait_unlink(sm_data_wait *w)
{
    if (w->next) {
        w->prev->next = w->next;
        w->next->prev = w->prev;
        w->next = w->prev = NULL;
    }
}

void sm_partition_appended(sm_broker *b, sm_partition *p, int64_t bytes)
{
    (void)b;
    sm_data_wait *head = &p->data_waiters;
    if (head->next == head)
        return;
    /* collect first: waking unlinks a waiter from every list it is on */
    sm_data_wait *ready = NULL;
    for (sm_data_wait *w = head->next; w != head; w = w->next) {
        if (w->appended(w, bytes)) {
            w->next_ready = ready;
            ready = w;
        }
    }
    while (ready) {
        sm_data_wait *w = ready;
        ready = w->next_ready;
        w->wake(w);
    }
}

/* ---- detach -------------------------------------------------------------------- */

void sm_partition_detach_waiters(sm_broker *b, sm_partition *p, bool deleting)
{
    if (p->acks_head) {
        if (deleting) {
            /* no point making durable what is about to be deleted */
            while (p->acks_head) {
                sm_ack_wait *aw = p->acks_head;
                p->acks_head = aw->next;
                aw->done(aw, SM_ENOENT);
            }
            p->acks_tail = NULL;
        } else {
            char err[256];
            int rc = sm_plog_sync(p->log, err, sizeof err);
            if (rc != SM_OK)
                sm_error("%s", err);
            sm_partition_flushed(b, p, sm_plog_end_offset(p->log), rc);
        }
    }
    /* waking unlinks a waiter from every partition it is parked on */
    while (p->data_waiters.next != &p->data_waiters)
        p->data_waiters.next->wake(p->data_waiters.next);
}
