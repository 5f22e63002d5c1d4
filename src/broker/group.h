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
 * internal log (offsets.c), written in Kafka's __consumer_offsets
 * record format, replayed at start-up and compacted by rewriting it.
 * The group APIs' handlers are declared in api.h.
 *
 * Threads: the event-loop thread only.
 *
 * Ownership: the broker's `groups` map owns every sm_group, a group its
 * members and committed offsets (strings malloc'd, freed with them). A
 * parked JoinGroup/SyncGroup (m->join_req, m->sync_req) stays its
 * connection's request: the member only points at it until it answers it,
 * or the connection's close cancels it.
 *
 * Errors: the state machine answers requests with Kafka error codes; the
 * store's calls return SM_OK or a negative code from base/err.h with `err`
 * filled, and a write that fails answers its waiters KAFKA_STORAGE_ERROR. */
#ifndef SM_BROKER_GROUP_H
#define SM_BROKER_GROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/map.h"
#include "broker/conn.h"
#include "broker/loop.h"
#include "broker/partition.h"
#include "proto/batch.h"
#include "proto/join_group.h"

typedef struct sm_broker sm_broker;

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

/* ---- the state machine, for the group APIs (group.c, used by h_group.c) ---- */

/* A malloc'd NUL-terminated copy (NULL for a null string); whether a C string
 * (NULL: null) equals s. */
char *sm_group_strdup(sm_str s);
bool sm_group_str_is(const char *a, sm_str b);
void sm_group_set_state(sm_group *g, sm_group_state s);

/* A fresh member id: client id, '-', random hex, as Kafka makes them. */
void sm_member_new_id(char *out, size_t outlen, sm_str client_id);
sm_member *sm_member_find(sm_group *g, sm_str id);
sm_member *sm_member_find_instance(sm_group *g, sm_str inst);
/* Replaces m's protocols with the request's; returns whether they changed
 * (*oom set when a copy failed). */
bool sm_member_set_protocols(sm_member *m, const sm_join_group_req *jr, bool *oom);
const sm_member_protocol *sm_member_protocol_find(const sm_member *m, const char *name);
void sm_member_set_client(sm_member *m, const sm_req *req);
/* Restarts m's session timer. */
void sm_member_touch(sm_member *m);
/* Adds a member (pending: it got MEMBER_ID_REQUIRED and is not counted
 * until it joins with its id); NULL when out of memory. */
sm_member *sm_member_add(sm_group *g, const char *id, const sm_join_group_req *jr,
                         sm_req *req, bool pending);
/* Answers m's parked requests with err and removes it from the group. */
void sm_member_remove(sm_group *g, sm_member *m, int16_t err, const char *why);

/* Answers a JoinGroup: resp as given, an error, or the current generation
 * to m's parked JoinGroup (with the member list when m leads). */
void sm_join_send(sm_req *req, const sm_join_group_resp *resp);
void sm_join_error(sm_req *req, int16_t err, const char *member_id);
void sm_join_answer(sm_member *m);
/* Answers a SyncGroup, or m's parked one (its assignment when err is NONE). */
/* Fills resp's Members with the group's members and their metadata for
 * the chosen protocol (the leader's JoinGroup answer); false when out of
 * memory. */
bool sm_join_members(sm_group *g, sm_req *req, sm_join_group_resp *resp);
void sm_sync_send(sm_req *req, int16_t err, const sm_group *g, const uint8_t *assignment,
                  int32_t len);
void sm_sync_answer(sm_member *m, int16_t err);

/* After members left: rebalance the rest, or settle as Empty. */
void sm_group_after_departure(sm_group *g, const char *why);
/* Enters PreparingRebalance (answering parked SyncGroups with
 * REBALANCE_IN_PROGRESS) and completes the join at once if nobody is missing. */
void sm_group_prepare_rebalance(sm_group *g, const char *why);
/* Completes the join when every member has rejoined (and the initial delay
 * has passed). */
void sm_group_maybe_complete_join(sm_group *g);
/* Arms the group's timer at the next of the join deadline and the initial delay. */
void sm_group_arm_timer(sm_group *g);
/* Whether the protocol the group would choose now is the one it has. */
bool sm_group_protocol_unchanged(sm_group *g);

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

/* ---- writing the store, for the APIs (offsets.c, used by h_offsets.c, h_group.c) ---- */

/* A batch of store records under construction: begin, add, then
 * sm_offsets_write (or release). */
typedef struct sm_offsets_batch {
    sm_wbuf w;
    sm_batch_builder bb;
    sm_wbuf key, val;
    int n;
} sm_offsets_batch;

void sm_offsets_batch_begin(sm_offsets_batch *rb);
void sm_offsets_batch_release(sm_offsets_batch *rb);
/* A committed offset; its tombstone; a group's tombstone. */
void sm_offsets_batch_commit(sm_offsets_batch *rb, const char *group, const char *topic,
                             int32_t partition, const sm_committed *c);
void sm_offsets_batch_delete_offset(sm_offsets_batch *rb, const char *group, const char *topic,
                                    int32_t partition);
void sm_offsets_batch_delete_group(sm_offsets_batch *rb, const char *group);

/* One offset a pending write changes in memory once it is durable. */
typedef struct sm_offset_update {
    const char *topic;
    int32_t partition;
    sm_committed c;
    int16_t *error_code; /* the response slot: KAFKA_STORAGE_ERROR if the write fails */
} sm_offset_update;

/* A request waiting for its records to be durable (in the request's arena). */
typedef struct sm_offsets_write_wait {
    sm_ack_wait base;
    sm_req *req;
    char *group_id; /* the group whose updates apply (an OffsetCommit), or NULL */
    sm_offset_update *updates;
    int nupdates;
    void (*respond)(struct sm_offsets_write_wait *pw); /* encodes and completes req */
    void *resp;
} sm_offsets_write_wait;

/* Appends rb to the store; once it is durable applies pw's updates and
 * answers through pw->respond (at once, with KAFKA_STORAGE_ERROR in the
 * updates, if the append fails). The caller still releases rb. */
void sm_offsets_write(sm_req *req, sm_offsets_batch *rb, sm_offsets_write_wait *pw);
/* Removes the group from the broker and frees it (its records are the caller's). */
void sm_group_remove(sm_broker *b, sm_group *g);

#endif
