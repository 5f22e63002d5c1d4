/* group.h: the group coordinator: consumer groups with the classic
 * rebalance protocol, and their committed offsets.
 *
 * The broker is the coordinator of every group. A group moves through
 * Kafka's states: Empty -> PreparingRebalance (members (re)join; the
 * JoinGroup requests are parked until every known member has joined or the
 * rebalance timeout passes) -> CompletingRebalance (the leader computes the
 * assignment; SyncGroup requests are parked until the leader's arrives) ->
 * Stable. Members whose heartbeats stop for session.timeout.ms are removed
 * and the group rebalances. Committed offsets live in memory and in an
 * internal log (groups.c / offsets.c), written in Kafka's __consumer_offsets
 * record format, replayed at start-up and compacted by rewriting it. */
#ifndef SM_BROKER_GROUP_H
#define SM_BROKER_GROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "base/map.h"
#include "broker/broker.h"

typedef enum {
    SM_GROUP_EMPTY,
    SM_GROUP_PREPARING_REBALANCE,
    SM_GROUP_COMPLETING_REBALANCE,
    SM_GROUP_STABLE,
    SM_GROUP_DEAD,
} sm_group_state;

typedef struct sm_group sm_group;

typedef struct sm_member_protocol {
    char *name;
    uint8_t *metadata;
    int32_t metadata_len;
} sm_member_protocol;

typedef struct sm_member {
    struct sm_member *next;
    sm_group *g;
    char *id;
    char *instance_id; /* group.instance.id of a static member, or NULL */
    char *client_id;
    char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    int nprotocols;
    sm_member_protocol *protocols;
    uint8_t *assignment;
    int32_t assignment_len;
    sm_req *join_req; /* a parked JoinGroup */
    sm_req *sync_req; /* a parked SyncGroup */
    bool pending;     /* got MEMBER_ID_REQUIRED, has not joined with it yet */
    sm_timer session_timer;
} sm_member;

/* One committed offset. */
typedef struct sm_committed {
    int64_t offset;
    int32_t leader_epoch;
    int64_t commit_ts; /* wall ms */
    char *metadata;    /* NULL: null */
} sm_committed;

struct sm_group {
    sm_broker *b;
    char *id;
    sm_group_state state;
    int64_t state_ts; /* wall ms of the last state change */
    int32_t generation;
    char *protocol_type; /* NULL until a member joins ("consumer") */
    char *protocol;      /* the chosen protocol of this generation */
    char *leader;        /* member id of the leader */
    sm_member *members;
    int nmembers; /* joined members (not counting pending ones) */
    sm_timer timer;
    int64_t join_deadline_ms; /* monotonic: members not rejoined by then are removed */
    int64_t delay_until_ms;   /* monotonic: group.initial.rebalance.delay.ms */
    int64_t delay_limit_ms;
    sm_map offsets; /* "topic:partition" -> sm_committed* */
};

const char *sm_group_state_name(sm_group_state s);
sm_group *sm_group_find(sm_broker *b, sm_str id);
sm_group *sm_group_get(sm_broker *b, sm_str id); /* creates an Empty group */
void sm_group_free(sm_group *g);

/* Shutdown: answers every parked JoinGroup/SyncGroup (COORDINATOR_NOT_AVAILABLE). */
void sm_groups_shutdown(sm_broker *b);

/* Offsets (offsets.c). */
int sm_offsets_open(sm_broker *b, char *err, size_t errlen);
void sm_offsets_close(sm_broker *b);
/* Shutdown: fsyncs the store and answers the commits waiting on it. */
void sm_offsets_drain(sm_broker *b);
/* Applies a committed offset in memory (NULL value: delete). */
void sm_group_offset_set(sm_group *g, const char *topic, int32_t partition,
                         const sm_committed *c);
/* Appends a record of the group's state (generation, protocol) to the log. */
void sm_group_persist(sm_group *g);
/* Expires offsets of empty groups past offsets.retention.minutes, removes
 * groups left with nothing, compacts the log when it is mostly garbage. */
void sm_offsets_housekeep(sm_broker *b);
/* The topic was deleted: every group's committed offsets of it go too
 * (tombstones in the store, fsynced before this returns when there were
 * any), as Kafka does, so a topic created again under the name starts with
 * none. Returns SM_OK, or an error with err filled when the tombstones could
 * not be written or synced (the offsets are gone from memory either way). */
int sm_offsets_topic_deleted(sm_broker *b, const char *topic, char *err, size_t errlen);

/* Handlers. */
void sm_handle_find_coordinator(sm_req *req);
void sm_handle_join_group(sm_req *req);
void sm_handle_sync_group(sm_req *req);
void sm_handle_heartbeat(sm_req *req);
void sm_handle_leave_group(sm_req *req);
void sm_handle_describe_groups(sm_req *req);
void sm_handle_list_groups(sm_req *req);
void sm_handle_delete_groups(sm_req *req);
void sm_handle_offset_commit(sm_req *req);
void sm_handle_offset_fetch(sm_req *req);
void sm_handle_offset_delete(sm_req *req);

#endif
