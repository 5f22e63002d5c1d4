/* check.h: is a PUBLISHED row's record where its mark says, in the topic as
 * it is now? Completion tracking asks before it lets committed offsets
 * complete rows: a topic deleted and created again starts its offsets from
 * 0, and its new records sit at the offsets the old rows recorded, so an
 * offset alone cannot tell the two incarnations apart; the record can. The
 * checker reads the record at (topic, partition, offset) and compares its
 * samsa.event_id and samsa.created_at headers with the row's.
 *
 * It runs in a thread of its own, on a librdkafka consumer of its own that
 * assigns the partitions at the offsets it wants (no group membership, no
 * commits; librdkafka's assign() needs a group.id, which is never joined),
 * so the relay's loop never waits for the broker: it submits a job, and
 * the thread writes to wake_fd when the verdicts are in. First, per topic,
 * a Metadata request: a topic the broker does not know, or a partition
 * beyond its partition count, is GONE without a fetch. */
#ifndef SM_RELAY_CHECK_H
#define SM_RELAY_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "relay/config.h"

typedef enum {
    SM_CHECK_MATCH,   /* the row's record is at its offset */
    SM_CHECK_OTHER,   /* another record is there */
    SM_CHECK_BEYOND,  /* the partition's log ends at or before the offset */
    SM_CHECK_GONE,    /* the topic, or the partition, does not exist */
    SM_CHECK_UNKNOWN, /* cannot tell: no answer, the record removed (retention, compaction) */
} sm_check_verdict;

/* One question: topic, partition, offset, and what the row's record says
 * (event_id, created_at) in; verdict and why (for people) out. The strings
 * are the item's own (sm_check_items_free). */
typedef struct sm_check_item {
    char *topic;
    int32_t partition;
    int64_t offset;
    char *event_id;
    int64_t created_at_ms;
    sm_check_verdict verdict;
    char why[256];
} sm_check_item;

typedef struct sm_check sm_check;

/* A consumer with the relay's librdkafka properties (connection and
 * security; producer tuning is ignored by a consumer) and its thread. */
int sm_check_init(sm_check **out, const sm_relay_config *cfg, int wake_fd, char *err,
                  size_t errlen);
/* Stops the thread (a job in progress ends at its next poll) and frees. */
void sm_check_free(sm_check *c);

/* Hands a job over (the checker owns items until sm_check_take returns
 * them); tag names it. False while a job is running or not yet taken. */
bool sm_check_submit(sm_check *c, uint64_t tag, sm_check_item *items, int n);
/* The finished job's items with their verdicts, and its tag; NULL while it
 * runs or when there is none. The caller frees them. */
sm_check_item *sm_check_take(sm_check *c, uint64_t *tag, int *n);
void sm_check_items_free(sm_check_item *items, int n);

const char *sm_check_verdict_name(sm_check_verdict v);

#endif
