/* track.h: completion tracking: the committed offsets of the consumer
 * groups in track.groups, read with librdkafka's admin API
 * (ListConsumerGroupOffsets, i.e. OffsetFetch at each group's coordinator).
 *
 * Why the admin API and not a consumer's rd_kafka_committed(): one client
 * serves every group (a consumer handle has one group.id, so N groups would
 * need N consumers, each with its own threads and connections), the call
 * is asynchronous (results arrive on a queue the relay's loop polls, so a
 * slow coordinator never stalls publishing), and it cannot join or disturb
 * the groups it reads.
 *
 * A round asks every group about the (topic, partition) pairs that have
 * PUBLISHED rows of their topic's current incarnation and whose topic it
 * tracks (track.groups: "group" tracks every topic, "group:topic" that
 * topic only); when all have answered, the lowest committed offset of each
 * pair over the groups tracking its topic is the bound below which rows are
 * consumed. A pair a tracking group has never committed is not complete for
 * anybody. A pair whose topic no group tracks is complete at once: nobody
 * is waited for (see docs/outbox.md).
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
#include <stdbool.h>
#include <stdint.h>

#include "base/map.h"
#include "outbox/store.h"
#include "relay/check.h"
#include "relay/config.h"

/* One tracked group: every topic, or the listed ones (pointers into the
 * config). */
typedef struct sm_track_group {
    const char *id;
    bool all;
    const char **topics;
    int ntopics;
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
    rd_kafka_t *rk; /* admin client; NULL when track.groups is empty */
    rd_kafka_queue_t *q;
    sm_check *check; /* the record checker (check.h) */
    sm_track_group *groups; /* distinct group ids */
    int ngroups;
    int asked; /* requests of the round in progress */
    /* the round in progress */
    bool busy;
    bool checking; /* its offsets are in; its records are being checked */
    uint64_t round; /* tags the requests, so late answers are ignored */
    int64_t started_ms;
    sm_track_pair *pairs;
    int npairs;
    sm_check_item *items; /* the checks of the round, until submitted */
    int nitems;
    int answered;
    bool failed;
    uint64_t rounds_applied; /* rounds every group answered and whose bounds were applied */
    sm_map verified; /* "partition:topic" -> the ends that last passed (see track.c) */
} sm_track;

/* Creates the admin client and the record checker with the relay's
 * librdkafka properties; both signal wake_fd (a pipe) when results arrive. */
int sm_track_init(sm_track *t, const sm_relay_config *cfg, int wake_fd, char *err, size_t errlen);
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
