/* relay_int.h (internal to relay/): the relay's state and the functions its
 * files share (relay.c: helpers, the loop, start and stop; writes.c, lanes.c,
 * dead.c, outcome.c, claim.c, periodic.c). A trailing underscore marks a
 * function internal to relay/ (src/README.md). */
#ifndef SM_RELAY_INT_H
#define SM_RELAY_INT_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/map.h"
#include "outbox/samsa.h"
#include "outbox/store.h"
#include "relay/keys.h"
#include "relay/metrics.h"
#include "relay/record.h"
#include "relay/retry.h"
#include "relay/track.h"
#include "relay/relay.h"

#define MAX_RETIRING 8
#define SAFETY_CLAIM_MS 1000   /* claim this often even when nothing says so */
#define DB_RETRY_MS 1000       /* after a failed database call */
#define RETIRE_TIMEOUT_MS 30000 /* a retired producer's rows in flight, at most */
#define MARK_CHUNK 5000         /* rows per mark_published statement */
#define SLOW_WRITES 200         /* retries or DEAD marks (one statement each) per loop round */

typedef struct lane {
    rd_kafka_t *rk;
    int id;
    bool serial;
    bool fatal;
    bool fatal_logged;
    int64_t retired_ms;
    int64_t batch_bytes; /* its batch.size */
    int too_large;       /* rows of batches the broker refused as too large */
    bool shrunk;         /* those made the next main lanes' batches smaller */
    sm_map topics; /* name -> rd_kafka_topic_t */
    /* "partition:topic" -> lane_off: the last offset this producer had
     * acknowledged there. One producer's acknowledgements of a partition
     * come in offset order, so an offset at or below the last one of the
     * same incarnation means the log started again: the topic was deleted
     * and created again (or its log was cut back). */
    sm_map offs;
} lane;

typedef struct lane_off {
    int32_t inc;
    int64_t last;
} lane_off;

/* The opaque of every produced message. */
typedef struct msg {
    int64_t id;
    char *key;   /* NULL: no key */
    char *topic; /* dead letters: the row's own topic */
    char *error; /* dead letters: why the row died */
    int64_t created_at_ms;
    int32_t attempts; /* rows: failed attempts before this one; dead letters: the final count */
    int32_t incarnation; /* rows: their topic's incarnation when claimed (sm_row) */
    bool serial;      /* sent on a one-message-per-batch lane */
    bool dlt;
    bool dlt_nopayload;
} msg;

/* A failed message, seen from a delivery report or a refused produce. */
typedef struct view {
    const void *key;
    size_t klen;
    const void *val;
    size_t vlen;
    const rd_kafka_headers_t *headers;
    const char *topic;
    bool local; /* refused by the producer itself, not by the broker */
    struct lane *lane; /* that sent it (delivery reports) */
} view;

typedef struct pend_retry {
    int64_t id;
    int32_t attempts;
    int64_t due_ms;
    char *error;
} pend_retry;

typedef struct timer {
    int64_t due; /* wall ms */
    int64_t id;
} timer;

typedef struct pend_dead {
    int64_t id;
    int32_t attempts;
    char *error;
    char *key;
} pend_dead;

/* A topic found deleted and created again by a delivery report, for the
 * loop to record (callbacks never write to the database). */
typedef struct pend_recreated {
    char *topic;
    int32_t inc;
    char *why;
} pend_recreated;

struct sm_relay {
    sm_relay_config *cfg;
    sm_store *store;
    bool pg;
    char db_name[512]; /* outbox.db without password */
    int schema_version;
    lane *main, *retry;
    lane *retiring[MAX_RETIRING];
    int nretiring;
    int next_lane_id;
    sm_keys keys;
    sm_acks acks; /* what consumers see: order_violations_total */
    sm_topics topics; /* topics whose rows fail get `probe` rows in flight */
    sm_idset isolate; /* rows whose next attempt goes alone, on the retry lane */
    int64_t main_batch_bytes; /* batch.size of new main lanes */
    sm_metrics metrics;
    sm_track track;
    int pipe[2]; /* librdkafka queues and signals wake the loop */
    volatile sig_atomic_t stop;
    bool closing; /* shutting down: no new dead letters */
    uint64_t owned;
    uint64_t rnd;
    int metrics_port;
    /* writes waiting for the database */
    sm_published *pub;
    size_t npub, cappub;
    pend_retry *retries;
    size_t nretries, capretries;
    pend_dead *deads;
    size_t ndeads, capdeads;
    pend_recreated *recreated;
    size_t nrecreated, caprecreated;
    int64_t db_retry_at; /* mono */
    /* due times (wall ms) of scheduled retries: a min-heap */
    timer *timers;
    size_t ntimers, captimers;
    /* schedule (mono ms) */
    int64_t next_balance, next_stats, next_complete, next_stale, next_cleanup, next_claim;
    int64_t next_db_check; /* SQLite: data_version */
    bool want_claim, last_full, room_blocked;
    bool keys_released; /* a held key was released and its outcome written */
    int64_t queue_full_until; /* mono */
    bool broker_down;
    int64_t broker_down_since;
    uint64_t released_at_close;
    size_t dlt_inflight; /* dead letters produced, no delivery report yet */
};

/* relay.c */
bool sm_relay_grow_(void **v, size_t *cap, size_t n, size_t size);
void sm_relay_errtext_(char *buf, size_t len, rd_kafka_resp_err_t err, const char *topic,
                       bool local);
const char *sm_relay_keystr_(const char *key);
void sm_relay_timer_push_(sm_relay *r, int64_t due, int64_t id);
void sm_relay_msg_free_(msg *m);
msg *sm_relay_msg_new_(int64_t id, const char *key, size_t klen, int64_t created_at_ms,
                       int32_t attempts);
void sm_relay_db_fail_(sm_relay *r, const char *what, const char *err);
/* writes.c */
void sm_relay_queue_retry_(sm_relay *r, int64_t id, int32_t attempts, int64_t due_ms,
                           const char *error);
void sm_relay_queue_dead_(sm_relay *r, int64_t id, const char *key, int32_t attempts,
                          const char *error);
void sm_relay_queue_published_(sm_relay *r, int64_t id, int32_t partition, int64_t offset,
                               int64_t at_ms, int32_t inc);
bool sm_relay_writes_pending_(const sm_relay *r);
void sm_relay_flush_writes_(sm_relay *r, bool force);
/* lanes.c */
lane *sm_relay_lane_new_(sm_relay *r, bool serial, char *err, size_t errlen);
void sm_relay_lane_free_(lane *l);
void sm_relay_lanes_check_(sm_relay *r);
void sm_relay_lanes_poll_(sm_relay *r);
lane *sm_relay_lane_of_(sm_relay *r, const rd_kafka_t *rk);
lane *sm_relay_lane_get_(sm_relay *r, bool serial);
rd_kafka_resp_err_t sm_relay_produce_(lane *l, const char *topic, const void *key, size_t klen,
                                      const void *val, size_t vlen, rd_kafka_headers_t *h, msg *m);
/* dead.c */
void sm_relay_dlt_send_(sm_relay *r, int64_t id, const char *keyz, const view *v, int32_t attempts,
                        const char *why, bool nopayload);
void sm_relay_dlt_delivered_(sm_relay *r, msg *m, const rd_kafka_message_t *km);
/* outcome.c */
void sm_relay_row_failed_(sm_relay *r, msg *m, rd_kafka_resp_err_t err, const view *v);
void sm_relay_offsets_note_(sm_relay *r, lane *l, const char *topic, int32_t partition, int32_t inc,
                            int64_t offset);
void sm_relay_dr_cb_(rd_kafka_t *rk, const rd_kafka_message_t *km, void *opaque);
void sm_relay_error_cb_(rd_kafka_t *rk, int err, const char *reason, void *opaque);
/* claim.c */
int64_t sm_relay_room_of_(const sm_relay *r);
/* Applies a pending rewind of a topic that has room again (true: there
 * was one); sm_relay_claim_ does it first. */
bool sm_relay_topics_rewind_(sm_relay *r);
void sm_relay_claim_(sm_relay *r);
/* periodic.c */
extern const sm_track_cbs sm_relay_complete_cbs_;
void sm_relay_log_slots_(uint64_t before, uint64_t after);
void sm_relay_recreated_flush_(sm_relay *r);
void sm_relay_periodic_(sm_relay *r, int64_t now);

#endif
