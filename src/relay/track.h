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
 * PUBLISHED rows and whose topic it tracks (track.groups: "group" tracks
 * every topic, "group:topic" that topic only); when all have answered, the
 * lowest committed offset of each pair over the groups tracking its topic is
 * the bound below which rows are consumed. A pair a tracking group has never
 * committed is not complete for anybody. A pair whose topic no group tracks
 * is complete at once: nobody is waited for (see docs/outbox.md). */
#ifndef SM_RELAY_TRACK_H
#define SM_RELAY_TRACK_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "outbox/store.h"
#include "relay/config.h"

/* One tracked group: every topic, or the listed ones (pointers into the
 * config). */
typedef struct sm_track_group {
    const char *id;
    bool all;
    const char **topics;
    int ntopics;
} sm_track_group;

typedef struct sm_track {
    rd_kafka_t *rk; /* admin client; NULL when track.groups is empty */
    rd_kafka_queue_t *q;
    sm_track_group *groups; /* distinct group ids */
    int ngroups;
    int asked; /* requests of the round in progress */
    /* the round in progress */
    bool busy;
    uint64_t round; /* tags the requests, so late answers are ignored */
    int64_t started_ms;
    rd_kafka_topic_partition_list_t *want; /* pairs asked; .offset = min committed so far */
    int answered;
    bool failed;
    uint64_t rounds_applied; /* rounds every group answered and whose bounds were applied */
} sm_track;

/* Creates the admin client with the relay's librdkafka properties; the
 * queue signals wake_fd (a pipe) when results arrive. */
int sm_track_init(sm_track *t, const sm_relay_config *cfg, int wake_fd, char *err, size_t errlen);
void sm_track_release(sm_track *t);

/* Starts a round for these pairs, unless one is running. */
void sm_track_start(sm_track *t, const sm_tp *tps, int n, int64_t now_ms);

/* Called for each pair of a finished round with the bound below which its
 * rows are consumed by every tracked group. */
typedef void (*sm_track_apply_fn)(const char *topic, int32_t partition, int64_t below, void *arg);
/* Serves results without blocking; applies a finished round. */
void sm_track_poll(sm_track *t, int64_t now_ms, sm_track_apply_fn apply, void *arg);

/* Does some group in t track topic? */
bool sm_track_topic_tracked(const sm_track *t, const char *topic);

#endif
