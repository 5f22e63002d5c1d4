/* keys.h: per-key order bookkeeping: which rows are in the relay's hands,
 * which keys are held back, and which rows may go out together.
 *
 * The rule (docs/outbox.md, "Per-key order"):
 * - Rows of one key may be in flight together only on one producer "lane"
 *   and one topic: the idempotent producer keeps them in order in their
 *   partition, and its gap-less mode fails every later batch of a partition
 *   when one fails, so a later row never lands before an earlier failed
 *   one. A lane marked serial (retries, dead letters) carries one row per
 *   key at a time.
 * - A row that failed holds back every later row of its key (never other
 *   keys) until it is PUBLISHED, or DEAD with on.dead=continue; with
 *   on.dead=block a DEAD row holds its key until it is re-queued and
 *   published. It is retried only once its key has nothing in flight.
 * - A claimed row that cannot join the rows of its key in flight (other
 *   lane or topic) is left for a later claim, and its key is claimed no
 *   more until those drain.
 * Rows with a NULL key are never held.
 *
 * Ids: a row is "tracked" from admission until its database write is done
 * (sm_keys_settled), so a claim never returns a row the relay already has,
 * even between the broker's ack and the PUBLISHED mark. */
#ifndef SM_RELAY_KEYS_H
#define SM_RELAY_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/map.h"

#define SM_KEYS_NEVER INT64_MAX

typedef struct sm_key_fail {
    int64_t id;
    int64_t due_ms; /* wall clock; SM_KEYS_NEVER: going to the dead-letter topic */
} sm_key_fail;

typedef struct sm_key_state {
    int32_t inflight; /* rows of the key produced and not yet resolved */
    int lane;
    bool serial;
    bool draining; /* a row could not join: admit none until inflight == 0 */
    char *topic;   /* of the rows in flight */
    sm_key_fail *failed; /* rows that failed and are not yet resolved, by id */
    int nfailed, capfailed;
    int64_t dead_block; /* on.dead=block: the DEAD row holding the key, or 0 */
} sm_key_state;

#define SM_KEYS_SLOTS 64 /* SM_STORE_SLOTS */

/* A set of row ids (>= 1), each with a small tag. */
typedef struct sm_idset {
    int64_t *ids;  /* open addressing; 0 empty, -1 deleted */
    uint8_t *tags;
    size_t cap, n, used;
} sm_idset;

bool sm_idset_add(sm_idset *s, int64_t id, uint8_t tag);
bool sm_idset_has(const sm_idset *s, int64_t id);
/* Sets id's tag; returns the old one, or -1 if absent. */
int sm_idset_retag(sm_idset *s, int64_t id, uint8_t tag);
/* Removes id; returns its tag, or -1 if absent. */
int sm_idset_del(sm_idset *s, int64_t id);
void sm_idset_release(sm_idset *s);

typedef struct sm_keys {
    bool block_on_dead;
    sm_map keys;  /* key -> sm_key_state */
    sm_idset ids; /* tracked rows, tagged with their slot */
    uint32_t per_slot[SM_KEYS_SLOTS]; /* tracked rows per slot */
    size_t budget; /* tracked rows that count against max.inflight (below) */
    size_t inflight;
    bool wake; /* a held key was released: claim again */
} sm_keys;

void sm_keys_init(sm_keys *k, bool block_on_dead);
void sm_keys_release(sm_keys *k);

/* For sm_store_claim: true for rows the relay already has and for rows of
 * held keys. */
bool sm_keys_skip(const sm_keys *k, int64_t id, const char *key);

/* A claimed row (of key slot `slot`) asks to go out on lane (serial: one
 * row of a key at a time) to topic. True: it is now tracked and in flight;
 * produce it. False: leave it for a later claim.
 * The in-flight budget (max.inflight) counts rows admitted on a lane that
 * is not serial, until they are settled, except rows that failed: a row
 * waiting for its retry, going to the dead-letter topic or retried alone
 * is in k->ids but not in k->budget, so failing rows never take the
 * room of healthy ones. */
bool sm_keys_admit(sm_keys *k, int64_t id, const char *key, int slot, int lane, bool serial,
                   const char *topic);

/* Outcomes of a row in flight (it stays tracked until settled).
 * acked: the broker has it (or it was re-queued and published after a
 * block). Returns true when an earlier row of its key is still failing:
 * the broker got them out of order. */
bool sm_keys_acked(sm_keys *k, int64_t id, const char *key);
/* failed: retry at due_ms (SM_KEYS_NEVER while its dead letter is out). */
void sm_keys_failed(sm_keys *k, int64_t id, const char *key, int64_t due_ms);
/* The failed row, not in flight, gets a new due time (a dead letter that
 * could not be sent: retried later). */
void sm_keys_reschedule(sm_keys *k, int64_t id, const char *key, int64_t due_ms);
/* dead: marked DEAD; releases the key (continue) or blocks it (block). */
void sm_keys_dead(sm_keys *k, int64_t id, const char *key);
/* The row's database write is done (or none was needed). */
void sm_keys_settled(sm_keys *k, int64_t id);
bool sm_keys_tracked(const sm_keys *k, int64_t id);
/* Bitmap of the slots with tracked rows (for sm_store_balance_busy: a slot
 * is handed to another relay only once none of its rows is tracked here). */
uint64_t sm_keys_busy(const sm_keys *k);

/* What a consumer sees: the highest row id acknowledged per (topic, key),
 * for the SM_ACKS_SIZE most recently acknowledged keys (a fixed table of
 * 64-bit hashes: a key pushed out is forgotten, never confused with
 * another). sm_acks_note says whether id lands after a higher id of its
 * topic and key already did, i.e. a consumer reads them out of order. */
#define SM_ACKS_SIZE 65536
typedef struct sm_acks {
    uint64_t *hash; /* 0: empty */
    int64_t *id;
} sm_acks;

bool sm_acks_init(sm_acks *a);
void sm_acks_release(sm_acks *a);
bool sm_acks_note(sm_acks *a, const char *topic, const char *key, int64_t id);
/* Forgets every key (rows re-published on purpose are not inversions). */
void sm_acks_clear(sm_acks *a);

/* Topics whose rows fail (issue 18): a topic is "proven" once a row to it
 * was acknowledged, and stops being so when a row to it fails with an
 * error charged to the row. Rows to a topic that is not proven may be in
 * flight only `probe` at a time, on all lanes together, so rows to a
 * topic that does not exist (each attempt waits for its metadata) never
 * fill the budget of the others; the claim skips them meanwhile. */
typedef struct sm_topic_state {
    int32_t inflight;
    bool proven;
    int64_t failing_since; /* wall ms: first try or failure while not proven; 0: proven */
    int64_t skipped;       /* lowest id the claim skipped for the cap, 0: none */
} sm_topic_state;

typedef struct sm_topics {
    sm_map map; /* topic -> sm_topic_state */
    int32_t probe;
    int64_t rewind; /* lowest skipped id whose topic has room again, 0: none */
} sm_topics;

void sm_topics_init(sm_topics *t, int32_t probe);
void sm_topics_release(sm_topics *t);
/* For the claim: true when a row (id) of topic must wait for room. */
bool sm_topics_skip(sm_topics *t, const char *topic, int64_t id);
/* A row to topic goes out now (false: no room; out of memory counts as none). */
bool sm_topics_admit(sm_topics *t, const char *topic, int64_t now_ms);
/* A row to topic left the producer: acked, or failed (charged: an error
 * of the row or its topic, not a transport hiccup). */
void sm_topics_landed(sm_topics *t, const char *topic, bool acked, bool charged, int64_t now_ms);
/* How long rows to topic have been failing (0: proven or unknown). */
int64_t sm_topics_failing_ms(const sm_topics *t, const char *topic, int64_t now_ms);
/* The lowest row id skipped for a topic that has room again (0: none), once. */
int64_t sm_topics_take_rewind(sm_topics *t);

/* True once after a held key was released or a failed row's key drained
 * (claim again). */
bool sm_keys_take_wake(sm_keys *k);

#endif
