/* partition.h: one partition as the broker holds it: its log, its
 * idempotent producers, and what waits on it (partition.c).
 *
 * Two kinds of waiters, kept by the partition so that the modules that park
 * them never call each other: acks (an acks=all Produce, an OffsetCommit)
 * wait for the flusher to make the log durable past their target; data
 * waiters (a parked Fetch) wait for appends. The partition answers both
 * when it is detached (topic deleted, shutdown).
 *
 * Threads: the event-loop thread only; the flusher's completions reach
 * sm_partition_flushed through broker.c on that thread.
 *
 * Ownership: a topic owns its partitions (topics.h). Waiters are embedded
 * in their owners' structs; the partition only links them, so an owner
 * that frees a parked waiter unlinks it first (or has been answered).
 *
 * Errors: given to each waiter through its callback (sm_ack_wait.done's
 * rc), never returned. */
#ifndef SM_BROKER_PARTITION_H
#define SM_BROKER_PARTITION_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/log.h"

typedef struct sm_broker sm_broker;
typedef struct sm_topic sm_topic;
typedef struct sm_partition sm_partition;
typedef struct sm_idem sm_idem;

/* Something waiting for a partition's log to be durable up to `target`
 * (an acks=all produce, an offset commit). `done` is called exactly once on
 * the loop thread, with SM_OK or SM_EIO (the fsync failed), or SM_ENOENT
 * (the partition is being deleted). Embed it. */
typedef struct sm_ack_wait {
    struct sm_ack_wait *next;
    int64_t target;
    void (*done)(struct sm_ack_wait *aw, int rc);
} sm_ack_wait;

/* Something parked on a partition until records are appended (a Fetch,
 * one node per partition it names). Embed it and set both callbacks.
 * `appended` is told the size of each append and returns true when the
 * waiter wants waking; `wake` answers it, and must unlink it (with
 * sm_data_wait_unlink) from every partition it is parked on. */
typedef struct sm_data_wait {
    struct sm_data_wait *prev, *next;
    struct sm_data_wait *next_ready; /* sm_partition_appended's wake-up list */
    bool (*appended)(struct sm_data_wait *w, int64_t bytes);
    void (*wake)(struct sm_data_wait *w);
} sm_data_wait;

struct sm_partition {
    sm_topic *topic; /* NULL for the broker's internal logs */
    int32_t index;
    sm_plog *log;
    sm_idem *idem; /* idempotent producers' state, made on first use (idempotence.c) */
    sm_data_wait data_waiters; /* list head (sentinel) */
    sm_ack_wait *acks_head, *acks_tail; /* waiting on fsync, by target offset */
};

/* Empties the waiter lists of a new partition (the rest is the caller's). */
void sm_partition_init(sm_partition *p, sm_topic *t, int32_t index);

/* Queues aw until p's log is durable past everything appended so far, and
 * asks the flusher for it. */
void sm_partition_wait_durable(sm_broker *b, sm_partition *p, sm_ack_wait *aw);
/* The flusher made p durable up to `durable` (rc SM_OK), or its fsync failed
 * (every ack waiter gets rc). */
void sm_partition_flushed(sm_broker *b, sm_partition *p, int64_t durable, int rc);

/* Parks w on p until sm_partition_appended wakes it or its owner unlinks it. */
void sm_partition_wait_data(sm_partition *p, sm_data_wait *w);
/* Unlinks w if it is parked (safe to call twice). */
void sm_data_wait_unlink(sm_data_wait *w);
/* bytes were appended to p: tells every data waiter, then wakes those that
 * asked for it. */
void sm_partition_appended(sm_broker *b, sm_partition *p, int64_t bytes);

/* A partition is going away: answer everything waiting on it. At shutdown
 * (deleting false) waiting acks are answered after a synchronous fsync;
 * when its topic is being deleted they get SM_ENOENT (a produce answers
 * UNKNOWN_TOPIC_OR_PARTITION). Data waiters are woken (a fetch is answered
 * with what is there). */
void sm_partition_detach_waiters(sm_broker *b, sm_partition *p, bool deleting);

#endif
