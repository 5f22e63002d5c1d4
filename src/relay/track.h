/* track.h: completion tracking: the committed offsets of the consumer
 * groups in track.groups, read on a thread of their own.
 *
 * Each tracked group has a librdkafka consumer handle with that group.id
 * that never subscribes (so it never joins or disturbs the group) and only
 * asks for the group's commits: rd_kafka_committed(), an OffsetFetch at the
 * group's coordinator, which the consumer finds again when it moves. The
 * call blocks, so a worker thread makes it and wakes the relay's loop (a
 * byte on its pipe) when a round is done: a slow or missing coordinator
 * never stalls publishing.
 *
 * Why not librdkafka's admin API (ListConsumerGroupOffsets), which needs
 * one client for every group and no thread: in librdkafka up to at least
 * 2.0.2 (Debian 12's) it aborts the process (rd_kafka_enq_once_del_source_
 * return: Assertion `eonce->refcnt > 0', librdkafka #4605) when a request
 * times out while waiting for its coordinator and the coordinator then comes
 * back: a Kafka node down for 10 s was enough. The consumer's own path is
 * the one every consumer group uses.
 *
 * A round asks every group about the (topic, partition) pairs that have
 * PUBLISHED rows of their topic's current incarnation and whose topic it
 * tracks (track.groups: "group" tracks every topic, "group:topic" that
 * topic only); when all have answered, the lowest committed offset of each
 * pair over the groups tracking its topic is the bound below which rows are
 * consumed. A pair a tracking group has never committed is not complete for
 * anybody. A pair whose topic no group tracks is complete at once: nobody
 * is waited for (see docs/outbox.md). A group whose commits cannot be read
 * within GROUP_TIMEOUT_MS (track.c) fails the round; the next one asks
 * again.
 *
 * Offsets of one incarnation: before a bound completes anything, the
 * records of the pair's lowest and highest PUBLISHED rows of the current
 * incarnation are read back (check.h) and must be those rows' records. The
 * same check runs when a pair's ends changed since they last passed, so a
 * topic deleted and created again is noticed within a round even while no
 * group commits. A record that is not there (another record at its offset,
 * the log ending before it, the topic or partition gone) means the topic is
 * not the one those rows were published to: the round reports it
 * (recreated) and completes nothing of the topic. When the checker cannot
 * tell, the pair completes nothing this round (unverified). */
#ifndef SM_RELAY_TRACK_H
#define SM_RELAY_TRACK_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/map.h"
#include "outbox/store.h"
#include "relay/check.h"
#include "relay/config.h"

/* One tracked group: every topic, or the listed ones (pointers into the
 * config), and the consumer handle that reads its commits. */
typedef struct sm_track_group {
    const char *id;
    bool all;
    const char **topics;
    int ntopics;
    rd_kafka_t *rk; /* consumer with group.id = id; never subscribes */
    /* the round in progress: this group's pairs, the offsets the worker
     * read into them, and its verdict; NULL when the group has none */
    rd_kafka_topic_partition_list_t *ask;
    rd_kafka_resp_err_t err;
} sm_track_group;

/* A pair of the round in progress (strings its own). */
typedef struct sm_track_pair {
    char *topic;
    int32_t partition;
    int32_t inc;        /* the topic's current incarnation when listed */
    sm_tp_row low, high; /* its ends in that incarnation (event ids its own) */
    bool tracked;       /* some group tracks the topic */
    int64_t bound;      /* min committed over the groups; -1: some never committed */
    int ilow, ihigh;    /* its check items, or -1 */
} sm_track_pair;

typedef struct sm_track {
    bool on;         /* some group is tracked (the worker runs) */
    sm_check *check; /* the record checker (check.h) */
    sm_track_group *groups; /* distinct group ids */
    int ngroups;
    int wake_fd;
    /* the worker: handed a round (pending), it reads each group's commits
     * and sets done; lock guards pending, done and the groups' ask/err */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool pending, done;
    atomic_bool stop;
    /* the round in progress (the relay's thread) */
    bool busy;
    bool answered; /* every group's commits are in (folded into pairs) */
    bool checking; /* its offsets are in; its records are being checked */
    uint64_t round; /* tags the record checks, so late verdicts are ignored */
    int64_t started_ms;
    sm_track_pair *pairs;
    int npairs;
    sm_check_item *items; /* the checks of the round, until submitted */
    int nitems;
    bool failed;
    uint64_t rounds_applied; /* rounds every group answered and whose bounds were applied */
    sm_map verified; /* "partition:topic" -> the ends that last passed (see track.c) */
} sm_track;

/* Creates one consumer handle per tracked group and the record checker
 * with the relay's librdkafka properties (connection and security; producer
 * tuning is ignored by a consumer) and starts the worker, which writes a
 * byte to wake_fd (a pipe) when a round's commits are read, as the checker
 * does when its verdicts are in. Nothing is started when track.groups is
 * empty. */
int sm_track_init(sm_track *t, const sm_relay_config *cfg, int wake_fd, char *err, size_t errlen);
/* Stops the worker (at most about a second: it checks between calls) and
 * destroys the handles. */
void sm_track_release(sm_track *t);

/* Starts a round for these pairs, unless one is running. */
void sm_track_start(sm_track *t, const sm_tp *tps, int n, int64_t now_ms);

/* What a finished round found, per pair or topic. */
typedef struct sm_track_cbs {
    /* rows of (topic, partition) of incarnation inc (-1: any, for a topic
     * nobody tracks) with from <= offset < below are consumed by every
     * group tracking the topic */
    void (*complete)(const char *topic, int32_t partition, int32_t inc, int64_t from,
                     int64_t below, void *arg);
    /* the topic is not the incarnation inc its rows were published to */
    void (*recreated)(const char *topic, int32_t inc, const char *why, void *arg);
    /* the records of (topic, partition) could not be checked this round */
    void (*unverified)(const char *topic, int32_t partition, const char *why, void *arg);
} sm_track_cbs;
/* Serves results without blocking; reports a finished round. */
void sm_track_poll(sm_track *t, int64_t now_ms, const sm_track_cbs *cbs, void *arg);

/* Does some group in t track topic? */
bool sm_track_topic_tracked(const sm_track *t, const char *topic);

#endif
