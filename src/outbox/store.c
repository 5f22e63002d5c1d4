/* store.c: the store interface (store.h): picks the implementation from the
 * URL once, then forwards every call through its sm_store_ops table; also
 * the helpers both implementations share (freeing rows, the C slot hash). */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "outbox/admin.h"
#include "outbox/db.h"
#include "outbox/outbox_int.h"

int sm_store_open(sm_store **out, const char *url, char *err, size_t errlen)
{
    *out = NULL;
    if (!url)
        return sm_fail(err, errlen, SM_EINVAL, "outbox.db: not set");
    if (!strncmp(url, "sqlite:", 7))
        return sm_store_sqlite_open(out, url + 7, err, errlen);
    if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11))
        return sm_store_pg_open(out, url, err, errlen);
    return sm_fail(err, errlen, SM_EINVAL,
                   "outbox.db: expected sqlite:PATH or a postgresql:// URL");
}

void sm_store_close(sm_store *s)
{
    if (s)
        s->ops->close(s);
}

bool sm_store_is_pg(const sm_store *s) { return s->is_pg; }

/* The schema and the stats run on db.h over the store's own connection:
 * one implementation for both databases (schema.c, admin.c). */
int sm_store_migrate(sm_store *s, char *err, size_t errlen)
{
    sm_db db;
    int rc = s->ops->db_begin(s, "migrate", &db, err, errlen);
    if (rc)
        return rc;
    rc = sm_schema_apply(&db, 0, err, errlen);
    s->ops->db_end(s, rc);
    return rc;
}

int sm_store_schema_version(sm_store *s, int *version, char *err, size_t errlen)
{
    sm_db db;
    int rc = s->ops->db_begin(s, "schema version", &db, err, errlen);
    if (rc)
        return rc;
    rc = sm_schema_version(&db, version, err, errlen);
    s->ops->db_end(s, rc);
    return rc;
}

int sm_store_balance(sm_store *s, const char *relay_id, uint64_t *owned, char *err, size_t errlen)
{
    return sm_store_balance_busy(s, relay_id, 0, owned, err, errlen);
}

int sm_store_balance_busy(sm_store *s, const char *relay_id, uint64_t busy, uint64_t *owned,
                          char *err, size_t errlen)
{
    if (!relay_id || !*relay_id || strlen(relay_id) > 200)
        return sm_fail(err, errlen, SM_EINVAL, "%s: balance: relay id must be 1..200 bytes",
                       s->name);
    return s->ops->balance(s, relay_id, busy, owned, err, errlen);
}

uint64_t sm_store_owned(const sm_store *s) { return s->ops->owned(s); }

void sm_store_set_claim_cursor(sm_store *s, bool on)
{
    if (s)
        s->ops->set_claim_cursor(s, on);
}

void sm_store_rewind(sm_store *s, int64_t id)
{
    if (s)
        s->ops->rewind(s, id);
}

void sm_store_set_lease_ms(sm_store *s, int64_t ms)
{
    if (s && s->ops->set_lease_ms)
        s->ops->set_lease_ms(s, ms);
}

int sm_store_claim(sm_store *s, uint64_t owned, int max, sm_row_skip_fn skip, void *arg,
                   sm_row **rows, int *n, char *err, size_t errlen)
{
    *rows = NULL;
    *n = 0;
    if (max <= 0)
        return SM_OK;
    return s->ops->claim(s, owned, max, skip, arg, rows, n, err, errlen);
}

int sm_store_mark_published(sm_store *s, const sm_published *v, int n, char *err, size_t errlen)
{
    if (n <= 0)
        return SM_OK;
    return s->ops->mark_published(s, v, n, err, errlen);
}

int sm_store_mark_retry(sm_store *s, int64_t id, int32_t attempts, int64_t next_attempt_ms,
                        const char *error, char *err, size_t errlen)
{
    return s->ops->mark_retry(s, id, attempts, next_attempt_ms, error, err, errlen);
}

int sm_store_mark_dead(sm_store *s, int64_t id, int32_t attempts, const char *error, char *err,
                       size_t errlen)
{
    return s->ops->mark_dead(s, id, attempts, error, err, errlen);
}

int sm_store_complete(sm_store *s, const char *topic, int32_t partition, int32_t inc,
                      int64_t from, int64_t below, int64_t *changed, char *err, size_t errlen)
{
    int64_t dummy;
    return s->ops->complete(s, topic, partition, inc, from, below, changed ? changed : &dummy, err,
                            errlen);
}

int sm_store_new_incarnation(sm_store *s, const char *topic, int32_t inc, const char *reason,
                             int32_t *current, bool *started, char *err, size_t errlen)
{
    int32_t cur;
    bool st;
    return s->ops->new_incarnation(s, topic, inc, reason, current ? current : &cur,
                                   started ? started : &st, err, errlen);
}

int sm_store_requeue_incarnations(sm_store *s, const char *topic, const char *reason,
                                  int64_t *changed, char *err, size_t errlen)
{
    int64_t dummy;
    return s->ops->requeue_incarnations(s, topic, reason, changed ? changed : &dummy, err, errlen);
}

int sm_store_published_partitions(sm_store *s, sm_tp **tps, int *n, char *err, size_t errlen)
{
    *tps = NULL;
    *n = 0;
    return s->ops->published_partitions(s, tps, n, err, errlen);
}

void sm_tps_free(sm_tp *tps, int n)
{
    if (!tps)
        return;
    for (int i = 0; i < n; i++) {
        free(tps[i].topic);
        free(tps[i].low.event_id);
        free(tps[i].high.event_id);
    }
    free(tps);
}

int sm_store_requeue_stale(sm_store *s, int64_t age_ms, int64_t *changed, char *err, size_t errlen)
{
    int64_t dummy;
    return s->ops->requeue_stale(s, age_ms, changed ? changed : &dummy, err, errlen);
}

int sm_store_cleanup(sm_store *s, int64_t age_ms, bool include_published, bool archive,
                     int64_t *removed, char *err, size_t errlen)
{
    int64_t dummy;
    return s->ops->cleanup(s, age_ms, include_published, archive, removed ? removed : &dummy,
                           err, errlen);
}

int sm_store_stats_get(sm_store *s, sm_store_stats *st, char *err, size_t errlen)
{
    sm_db db;
    int rc = s->ops->db_begin(s, "stats", &db, err, errlen);
    if (rc)
        return rc;
    rc = sm_admin_stats(&db, st, err, errlen);
    s->ops->db_end(s, rc);
    return rc;
}

int sm_store_wait(sm_store *s, int timeout_ms, char *err, size_t errlen)
{
    return s->ops->wait(s, timeout_ms < 0 ? 0 : timeout_ms, err, errlen);
}

int sm_store_wait_fd(sm_store *s) { return s->ops->wait_fd(s); }

void sm_store_set_poll_ms(sm_store *s, int ms) { s->poll_ms = ms < 1 ? 1 : ms; }

void sm_store_set_heartbeat_ttl_ms(sm_store *s, int ms) { s->heartbeat_ttl_ms = ms < 100 ? 100 : ms; }

void sm_store_set_dead_holds_key(sm_store *s, bool holds) { s->dead_holds_key = holds; }

void sm_rows_free(sm_row *rows, int n)
{
    if (!rows)
        return;
    for (int i = 0; i < n; i++) {
        free(rows[i].event_id);
        free(rows[i].topic);
        free(rows[i].key);
        free(rows[i].type);
        free(rows[i].payload);
        free(rows[i].headers_json);
    }
    free(rows);
}

/* FNV-1a, then a final avalanche (murmur3's fmix32) so that the low bits
 * depend on every byte: stable across builds and machines. */
int sm_slot_of(const char *key, size_t len)
{
    if (!key)
        return 0;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)key[i];
        h *= 16777619u;
    }
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return (int)(h % SM_STORE_SLOTS);
}
