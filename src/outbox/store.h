/* store.h: the relay's view of an outbox database (SQLite or PostgreSQL),
 * behind one interface. The contract of the tables is docs/outbox.md.
 *
 * Implementations: store_sqlite.c, store_pg*.c. Every function returns SM_OK
 * or a negative code (base/err.h) and fills err with a message naming the
 * database and the problem. A store is used by one thread.
 *
 * Capture: sm_store_claim returns committed INIT rows by status, never by
 * "id greater than the last seen", so a transaction that commits after one
 * with a higher id is never skipped. Rows come in id order.
 *
 * Several relays on one PostgreSQL outbox: the key space is split into
 * SM_STORE_SLOTS slots (hash of the key); a relay owns a slot while it holds
 * that slot's session-level advisory lock, and claims only rows of slots it
 * owns, so each key is published by one relay at a time and per-key order
 * holds. A relay that dies loses its locks with its session; the others take
 * its slots at their next sm_store_balance. SQLite has one relay. */
#ifndef SM_OUTBOX_STORE_H
#define SM_OUTBOX_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SM_STORE_SLOTS 64

typedef struct sm_store sm_store;

/* One outbox row as the relay needs it. Strings are NUL-terminated; byte
 * fields carry their length (-1: NULL). Owned by the row (sm_rows_free).
 * Each pointer is a separate malloc() block: the relay may take one over
 * (e.g. hand payload to librdkafka with RD_KAFKA_MSG_F_FREE) by setting the
 * field to NULL before sm_rows_free. slot is the store's word for the key's
 * slot (PostgreSQL computes it in SQL); never recompute it. */
typedef struct sm_row {
    int64_t id;
    char *event_id;
    char *topic;
    char *key;
    int32_t key_len;
    char *type;
    uint8_t *payload;
    int32_t payload_len;
    char *headers_json; /* NULL: none */
    int64_t created_at_ms;
    int32_t attempts;
    int slot; /* hash slot of the key (0 for NULL keys) */
    /* the incarnation of the row's topic when it was claimed
     * (samsa_topic_incarnation; 0 when the topic has none): a lower bound
     * of the incarnation the row will land in, since an incarnation is
     * only ever recorded after the topic it numbers was created */
    int32_t incarnation;
} sm_row;

void sm_rows_free(sm_row *rows, int n);

/* url: "sqlite:PATH" or a postgresql:// URL (libpq's syntax). */
int sm_store_open(sm_store **out, const char *url, char *err, size_t errlen);
void sm_store_close(sm_store *s);
bool sm_store_is_pg(const sm_store *s);

/* Creates or upgrades the schema to the newest version (versioned, in a
 * transaction, safe to run from several processes at once). */
int sm_store_migrate(sm_store *s, char *err, size_t errlen);
int sm_store_schema_version(sm_store *s, int *version, char *err, size_t errlen);

/* PostgreSQL: tries to own a fair share of the slots (SM_STORE_SLOTS / live
 * relays, learned from a heartbeat table), releasing extras; SQLite: owns
 * all. Call every few seconds. *owned gets a bitmap of owned slots. */
int sm_store_balance(sm_store *s, const char *relay_id, uint64_t *owned, char *err, size_t errlen);
/* sm_store_balance with a graceful hand-over: busy is the bitmap of slots
 * that still have rows in flight (claimed, not yet marked). A slot the store
 * gives up leaves *owned at once (stop claiming it) but its lock is released
 * only at a later call where it is no longer busy, so the next owner never
 * sees a row this relay has in flight. sm_store_balance(s, id, o, ...) is
 * sm_store_balance_busy(s, id, 0, o, ...): it releases at once.
 * relay_id must be unique per relay process (e.g. host:pid). */
int sm_store_balance_busy(sm_store *s, const char *relay_id, uint64_t busy, uint64_t *owned,
                          char *err, size_t errlen);
/* The slots the store owns now (what the last balance returned, or 0 after
 * the connection was lost). */
uint64_t sm_store_owned(const sm_store *s);

/* Up to max INIT rows with next_attempt_at <= now, of owned slots, by
 * status (never by "id above the last seen"), in id order. Rows for which
 * skip() says true are left out and do not count towards max: the relay
 * skips rows it already has in flight, keys it holds back (an earlier
 * row of the key is in flight or failing) and topics it limits (a topic
 * whose rows fail, see docs/outbox.md "Failing rows and the budget"). The store may pass the held keys
 * to the database or filter afterwards.
 * The database holds keys too, so that holds survive restarts and slot
 * moves: a row is not returned while an earlier row of its key is INIT with
 * attempts > 0 and not yet due (a retry waiting for its backoff), nor, with
 * sm_store_set_dead_holds_key(s, true), while an earlier row of its key is
 * DEAD. (An earlier row that is due comes first in the same claim.) */
typedef bool (*sm_row_skip_fn)(int64_t id, const char *key, const char *topic, void *arg);
int sm_store_claim(sm_store *s, uint64_t owned, int max, sm_row_skip_fn skip, void *arg,
                   sm_row **rows, int *n, char *err, size_t errlen);
/* The claim cursor (store_pg_claim.c, store_sqlite.c), off by default.
 * On, claims start above a floor below which every committed row is visible
 * and was looked at, instead of at the lowest INIT row, so rows in flight
 * are not read again and again; the claim is then no longer "every INIT
 * row, each call": a row at or below the floor that is INIT and due again
 * is found by a claim from the lowest INIT row, which runs every 2 s, after
 * slots are gained and after stale rows are re-queued; at once if the caller
 * says so with sm_store_rewind: a row it skipped or did not take (a held
 * key, a full queue), a row that came back unpublished, a retry that is due.
 * The next claim then starts below id. SQLite the same, with a simpler
 * floor (one writer at a time: rows become visible in id order). */
void sm_store_set_claim_cursor(sm_store *s, bool on);
void sm_store_rewind(sm_store *s, int64_t id);

/* Marks rows PUBLISHED with their partition, offset, time and incarnation
 * (the row's sm_row.incarnation), in one statement. */
typedef struct sm_published {
    int64_t id;
    int32_t partition;
    int64_t offset;
    int64_t published_at_ms;
    int32_t incarnation;
} sm_published;
int sm_store_mark_published(sm_store *s, const sm_published *v, int n, char *err, size_t errlen);

/* A failed attempt: attempts+1, next_attempt_at, last_error. attempts is
 * the row's new count (the relay passes row.attempts + 1), stored as given;
 * only an INIT row changes (a row marked meanwhile stays as it is). */
int sm_store_mark_retry(sm_store *s, int64_t id, int32_t attempts, int64_t next_attempt_ms,
                        const char *error, char *err, size_t errlen);
/* Gave up: DEAD with last_error (and where the dead letter went); attempts
 * is stored as given. */
int sm_store_mark_dead(sm_store *s, int64_t id, int32_t attempts, const char *error, char *err,
                       size_t errlen);

/* Topic incarnations. A topic deleted and created again starts its
 * offsets, and its groups' committed offsets, from 0 again, so a committed
 * offset says something about a row only if both belong to the same
 * incarnation of the topic. samsa_topic_incarnation numbers the
 * incarnations the relays have detected (a topic without a row is in 0);
 * each PUBLISHED row records the one it was published to (kafka_incarnation,
 * from sm_row.incarnation). */

/* PUBLISHED rows of (topic, partition) of incarnation inc with from <=
 * kafka_offset < below become COMPLETE, and only while inc is still the
 * topic's current incarnation (one statement: a new incarnation recorded
 * meanwhile wins). inc < 0: every PUBLISHED row of the pair below `below`,
 * whatever its incarnation (a topic no group tracks). */
int sm_store_complete(sm_store *s, const char *topic, int32_t partition, int32_t inc,
                      int64_t from, int64_t below, int64_t *changed, char *err, size_t errlen);

/* One PUBLISHED row of a pair, as completion checks it against the topic:
 * its offset (-1: no such row), event id and created_at (what its record's
 * samsa.event_id and samsa.created_at headers say), and how many PUBLISHED
 * rows of the same incarnation claim that offset (more than one: they cannot
 * all be in one incarnation). */
typedef struct sm_tp_row {
    int64_t offset;
    char *event_id;
    int64_t created_at_ms;
    int32_t same_offset;
} sm_tp_row;

/* A (topic, partition) pair with PUBLISHED rows, for completion tracking:
 * the topic's current incarnation, the lowest and highest PUBLISHED rows of
 * that incarnation (by kafka_offset, then id), and whether PUBLISHED rows of
 * another incarnation remain. */
typedef struct sm_tp {
    char *topic;
    int32_t partition;
    int32_t incarnation;
    sm_tp_row low, high;
    bool others;
} sm_tp;
int sm_store_published_partitions(sm_store *s, sm_tp **tps, int *n, char *err, size_t errlen);
void sm_tps_free(sm_tp *tps, int n);

/* A new incarnation of topic: if inc is still its current one, inc + 1
 * becomes current (with reason and the time, in samsa_topic_incarnation).
 * *current gets the topic's incarnation after the call, *started whether
 * this call began it (several relays may detect the same re-creation; one
 * of them begins it). */
int sm_store_new_incarnation(sm_store *s, const char *topic, int32_t inc, const char *reason,
                             int32_t *current, bool *started, char *err, size_t errlen);
/* PUBLISHED rows of topic of an incarnation other than its current one go
 * back to INIT (due now, attempts kept) with last_error = reason: they are
 * published again, to the current incarnation. */
int sm_store_requeue_incarnations(sm_store *s, const char *topic, const char *reason,
                                  int64_t *changed, char *err, size_t errlen);

/* Stale-row scheduler: PUBLISHED rows older than age_ms back to INIT. */
int sm_store_requeue_stale(sm_store *s, int64_t age_ms, int64_t *changed, char *err, size_t errlen);
/* Retention: COMPLETE (and PUBLISHED, if include_published) rows older than
 * age_ms are deleted, or moved to samsa_outbox_archive when archive is set. */
int sm_store_cleanup(sm_store *s, int64_t age_ms, bool include_published, bool archive,
                     int64_t *removed, char *err, size_t errlen);

/* Counts by status and the age of the oldest INIT row, for metrics; the
 * same counts `samsa outbox status` shows (one implementation, admin.c). */
typedef struct sm_store_stats {
    int64_t init, published, complete, dead;
    int64_t oldest_init_age_ms; /* -1: none */
    int64_t oldest_init_id;     /* valid when have_oldest */
    bool have_oldest;
    /* INIT rows the relay never claims: ids <= 0 (written explicitly before
     * schema v2 refused that; claims look above id 0) */
    int64_t unclaimable;
    int64_t unclaimable_first_id;
} sm_store_stats;
int sm_store_stats_get(sm_store *s, sm_store_stats *st, char *err, size_t errlen);

/* Waits until rows may be waiting (PostgreSQL: a NOTIFY on channel
 * samsa_outbox; SQLite: the poll interval passes) or timeout_ms. Returns
 * SM_OK on a wake-up, SM_AGAIN on timeout. */
int sm_store_wait(sm_store *s, int timeout_ms, char *err, size_t errlen);
/* The fd to poll for the wake-up (PostgreSQL's socket), or -1 (SQLite). */
int sm_store_wait_fd(sm_store *s);

/* Options (additive; defaults in brackets). Poll interval [10 ms]: SQLite's
 * wait checks for commits of other connections this often; PostgreSQL's wait
 * falls back to it while it cannot arm the wake-up (see store_pg_claim.c).
 * Heartbeat TTL [10000 ms]: a relay not seen for this long no longer counts
 * towards the fair share (PostgreSQL). */
void sm_store_set_poll_ms(sm_store *s, int ms);
void sm_store_set_heartbeat_ttl_ms(sm_store *s, int ms);
/* PostgreSQL: slot lease [SM_STORE_DEFAULT_LEASE_MS; 0: off]. At every
 * balance, a relay that holds slot locks and has not written its heartbeat
 * for this long is taken to be hung (a live relay writes it every balance):
 * its database session is ended (pg_terminate_backend; the role needs the
 * right to, e.g. the same role or pg_signal_backend), which releases its
 * slot locks, and its slots go to the live relays. It must be well above the
 * balance interval. SQLite: ignored. */
#define SM_STORE_DEFAULT_LEASE_MS 30000
void sm_store_set_lease_ms(sm_store *s, int64_t ms);
/* on.dead=block: a DEAD row holds the later rows of its key in the claim
 * until it is re-queued [false: on.dead=continue]. */
void sm_store_set_dead_holds_key(sm_store *s, bool holds);

#endif
