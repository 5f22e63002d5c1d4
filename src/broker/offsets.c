/* offsets.c: committed offsets and their durable store (the requests that
 * read and change them are h_offsets.c, and DeleteGroups h_group.c).
 *
 * The store is a partition log of the broker's own, `<first log dir>/
 * samsa-groups/`, holding records in Kafka's __consumer_offsets format
 * (offset commit key v1 / value v3, group metadata key v2 / value v3; a
 * null value deletes). It is read back at start-up and rewritten with only
 * live records when it is mostly garbage: the new copy is written and
 * fsynced beside it, then swapped in by rename, so a crash at any point
 * leaves one whole copy. An OffsetCommit is answered only after its
 * records are fsynced: an acknowledged commit survives kill -9 and power
 * loss alike. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsync.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "broker/broker.h"
#include "broker/conn.h"
#include "broker/group.h"
#include "broker/partition.h"
#include "proto/batch.h"
#include "proto/kafka.h"

#define STORE_DIR "samsa-groups"
#define BATCH_TARGET (256 * 1024)
#define COMPACT_MIN_BYTES (8LL << 20)
#define LIVE_RECORD_BYTES 160 /* rough size of one live record, for the garbage estimate */

struct sm_offsets {
    sm_partition part; /* the store's log, with the broker's durability waiters */
    char dir[4200];
    int64_t live; /* live records: committed offsets plus groups */
};

/* ---- record formats ---------------------------------------------------------------- */

enum { KEY_OFFSET_V1 = 1, KEY_GROUP_V2 = 2, VALUE_OFFSET_V3 = 3, VALUE_GROUP_V3 = 3 };

static void offset_key(sm_wbuf *w, const char *group, const char *topic, int32_t partition)
{
    sm_wbuf_i16(w, KEY_OFFSET_V1);
    sm_wbuf_cstr(w, group);
    sm_wbuf_cstr(w, topic);
    sm_wbuf_i32(w, partition);
}

static void offset_value(sm_wbuf *w, const sm_committed *c)
{
    sm_wbuf_i16(w, VALUE_OFFSET_V3);
    sm_wbuf_i64(w, c->offset);
    sm_wbuf_i32(w, c->leader_epoch);
    sm_wbuf_cstr(w, c->metadata ? c->metadata : "");
    sm_wbuf_i64(w, c->commit_ts);
}

static void group_key(sm_wbuf *w, const char *group)
{
    sm_wbuf_i16(w, KEY_GROUP_V2);
    sm_wbuf_cstr(w, group);
}

static void group_value(sm_wbuf *w, const sm_group *g)
{
    sm_wbuf_i16(w, VALUE_GROUP_V3);
    sm_wbuf_cstr(w, g->protocol_type ? g->protocol_type : "");
    sm_wbuf_i32(w, g->generation);
    sm_wbuf_str(w, g->protocol ? sm_str_c(g->protocol) : SM_STR_NULL);
    sm_wbuf_str(w, g->leader ? sm_str_c(g->leader) : SM_STR_NULL);
    sm_wbuf_i64(w, g->state_ts);
    sm_wbuf_i32(w, 0); /* members: membership is not restored after a restart */
}

void sm_offsets_batch_begin(sm_offsets_batch *rb)
{
    sm_wbuf_init(&rb->w, 4096);
    sm_wbuf_init(&rb->key, 256);
    sm_wbuf_init(&rb->val, 256);
    sm_batch_begin(&rb->bb, &rb->w, sm_wall_ms());
    rb->n = 0;
}

/* Adds the record in rb->key / rb->val (val NULL: tombstone) and clears them. */
static void rb_add(sm_offsets_batch *rb, bool tombstone)
{
    sm_str k = {(const char *)rb->key.p, (int32_t)rb->key.len};
    sm_str v = tombstone ? SM_STR_NULL : (sm_str){(const char *)rb->val.p, (int32_t)rb->val.len};
    sm_batch_add(&rb->bb, k, v, sm_wall_ms());
    rb->key.len = rb->val.len = 0;
    rb->n++;
}

void sm_offsets_batch_release(sm_offsets_batch *rb)
{
    sm_wbuf_release(&rb->w);
    sm_wbuf_release(&rb->key);
    sm_wbuf_release(&rb->val);
    sm_wbuf_release(&rb->bb.scratch);
}

/* Finishes and appends the batch to the store. */
static int rb_append(sm_broker *b, sm_offsets_batch *rb)
{
    sm_batch_finish(&rb->bb);
    if (rb->w.oom || rb->key.oom || rb->val.oom)
        return SM_ENOMEM;
    char err[256];
    int64_t base;
    int rc = sm_plog_append(b->offsets->part.log, rb->w.p, rb->w.len, sm_wall_ms(), &base, err,
                            sizeof err);
    if (rc != SM_OK)
        sm_log_limited(SM_LOG_ERROR, "offsets store: append failed: %s", err);
    return rc;
}

void sm_offsets_batch_commit(sm_offsets_batch *rb, const char *group, const char *topic,
                             int32_t partition, const sm_committed *c)
{
    offset_key(&rb->key, group, topic, partition);
    offset_value(&rb->val, c);
    rb_add(rb, false);
}

void sm_offsets_batch_delete_offset(sm_offsets_batch *rb, const char *group, const char *topic,
                                    int32_t partition)
{
    offset_key(&rb->key, group, topic, partition);
    rb_add(rb, true);
}

void sm_offsets_batch_delete_group(sm_offsets_batch *rb, const char *group)
{
    group_key(&rb->key, group);
    rb_add(rb, true);
}

/* ---- in-memory state ---------------------------------------------------------------- */

static int offset_map_key(char *out, size_t outlen, const char *topic, int32_t partition)
{
    return snprintf(out, outlen, "%s:%d", topic, partition);
}

void sm_group_offset_set(sm_group *g, const char *topic, int32_t partition, const sm_committed *c)
{
    char key[SM_TOPIC_NAME_MAX + 16];
    int n = offset_map_key(key, sizeof key, topic, partition);
    sm_committed *old = sm_map_get(&g->offsets, key, (size_t)n);
    sm_offsets *st = g->b->offsets;
    if (!c) {
        if (old) {
            sm_map_del(&g->offsets, key, (size_t)n);
            free(old->metadata);
            free(old);
            if (st)
                st->live--;
        }
        return;
    }
    if (!old) {
        old = calloc(1, sizeof *old);
        if (!old || sm_map_put(&g->offsets, key, (size_t)n, old) != SM_OK) {
            free(old);
            return;
        }
        if (st)
            st->live++;
    }
    free(old->metadata);
    *old = *c;
    old->metadata = c->metadata ? strdup(c->metadata) : NULL;
}

void sm_group_remove(sm_broker *b, sm_group *g)
{
    sm_offsets *st = b->offsets;
    if (st)
        st->live -= (int64_t)g->offsets.len + 1;
    sm_map_del(&b->groups, g->id, strlen(g->id));
    sm_group_free(g);
}

void sm_group_persist(sm_group *g)
{
    sm_broker *b = g->b;
    if (!b->offsets)
        return;
    sm_offsets_batch rb;
    sm_offsets_batch_begin(&rb);
    group_key(&rb.key, g->id);
    group_value(&rb.val, g);
    rb_add(&rb, false);
    rb_append(b, &rb);
    sm_offsets_batch_release(&rb);
}

/* ---- replay -------------------------------------------------------------------------- */

static void apply_record(sm_broker *b, const sm_record *rec)
{
    sm_rd k;
    sm_rd_init(&k, rec->key.p, rec->key.len > 0 ? (size_t)rec->key.len : 0);
    int16_t kv = sm_rd_i16(&k);
    sm_str group = sm_rd_str(&k);
    if (k.err || group.len <= 0)
        return;
    if (kv == 0 || kv == KEY_OFFSET_V1) {
        sm_str topic = sm_rd_str(&k);
        int32_t partition = sm_rd_i32(&k);
        if (k.err || topic.len <= 0 || topic.len > SM_TOPIC_NAME_MAX)
            return;
        char tname[SM_TOPIC_NAME_MAX + 1];
        memcpy(tname, topic.p, (size_t)topic.len);
        tname[topic.len] = 0;
        if (rec->value.len < 0) {
            sm_group *g = sm_group_find(b, group);
            if (g)
                sm_group_offset_set(g, tname, partition, NULL);
            return;
        }
        sm_rd v;
        sm_rd_init(&v, rec->value.p, (size_t)rec->value.len);
        int16_t vv = sm_rd_i16(&v);
        sm_committed c = {0};
        c.offset = sm_rd_i64(&v);
        c.leader_epoch = vv >= 3 ? sm_rd_i32(&v) : -1;
        sm_str meta = sm_rd_str(&v);
        c.commit_ts = sm_rd_i64(&v);
        if (v.err)
            return;
        char *m = meta.len >= 0 ? strndup(meta.p, (size_t)meta.len) : NULL;
        c.metadata = m;
        sm_group *g = sm_group_get(b, group);
        if (g)
            sm_group_offset_set(g, tname, partition, &c);
        free(m);
    } else if (kv == KEY_GROUP_V2) {
        sm_group *g = sm_group_find(b, group);
        if (rec->value.len < 0) {
            if (g)
                sm_group_remove(b, g);
            return;
        }
        sm_rd v;
        sm_rd_init(&v, rec->value.p, (size_t)rec->value.len);
        (void)sm_rd_i16(&v);
        sm_str ptype = sm_rd_str(&v);
        int32_t generation = sm_rd_i32(&v);
        (void)sm_rd_str(&v);
        (void)sm_rd_str(&v);
        int64_t ts = sm_rd_i64(&v);
        if (v.err)
            return;
        if (!g) {
            g = sm_group_get(b, group);
            if (!g)
                return;
            b->offsets->live++;
        }
        g->generation = generation;
        free(g->protocol_type);
        g->protocol_type = ptype.len > 0 ? strndup(ptype.p, (size_t)ptype.len) : NULL;
        g->state_ts = ts;
    }
}

static int replay(sm_broker *b, char *err, size_t errlen)
{
    sm_plog *log = b->offsets->part.log;
    int64_t off = sm_plog_start_offset(log), end = sm_plog_end_offset(log);
    uint8_t *buf = NULL;
    size_t cap = 0;
    int64_t records = 0;
    while (off < end) {
        sm_slice s;
        int rc = sm_plog_read(log, off, 1 << 20, &s);
        if (rc != SM_OK || s.len == 0) {
            sm_slice_release(&s);
            free(buf);
            return rc == SM_OK ? SM_OK : sm_fail(err, errlen, rc, "offsets store: read at %lld failed",
                                                 (long long)off);
        }
        if ((size_t)s.len > cap) {
            uint8_t *nb = realloc(buf, (size_t)s.len);
            if (!nb) {
                sm_slice_release(&s);
                free(buf);
                return SM_ENOMEM;
            }
            buf = nb;
            cap = (size_t)s.len;
        }
        ssize_t got = sm_slice_read(&s, 0, buf, (size_t)s.len);
        size_t len = got > 0 ? (size_t)got : 0;
        sm_slice_release(&s);
        size_t pos = 0;
        int64_t next = off;
        while (pos < len) {
            sm_batch_hdr h;
            if (sm_batch_validate(buf + pos, len - pos, &h) != SM_BATCH_OK)
                break; /* a partial batch at the end of this read */
            size_t total = (size_t)h.batch_length + SM_BATCH_LOG_OVERHEAD;
            if (h.base_offset + h.last_offset_delta >= off &&
                !(h.attributes & SM_ATTR_COMPRESSION_MASK)) {
                sm_rec_iter it;
                sm_rec_iter_init(&it, buf + pos, &h, 0, true);
                sm_record rec;
                while (sm_rec_iter_next(&it, &rec) == 1) {
                    if (h.base_offset + rec.offset_delta < off)
                        continue;
                    apply_record(b, &rec);
                    records++;
                }
                sm_rec_iter_release(&it);
            }
            next = h.base_offset + h.last_offset_delta + 1;
            pos += total;
        }
        if (next <= off) {
            free(buf);
            return sm_fail(err, errlen, SM_ECORRUPT,
                           "offsets store %s: unreadable batch at offset %lld", b->offsets->dir,
                           (long long)off);
        }
        off = next;
    }
    free(buf);
    sm_info("offsets store: %lld record(s) replayed: %zu group(s), %lld live record(s)",
            (long long)records, b->groups.len, (long long)b->offsets->live);
    return SM_OK;
}

/* ---- opening, compaction -------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}


static int open_log(sm_broker *b, bool clean, char *err, size_t errlen)
{
    sm_log_config cfg;
    sm_log_config_default(&cfg);
    cfg.segment_bytes = 64LL << 20;
    cfg.retention_ms = -1;
    cfg.retention_bytes = -1;
    sm_offsets *st = b->offsets;
    int rc = sm_plog_open(&st->part.log, st->dir, &cfg, clean, err, errlen);
    if (rc == SM_OK && sm_plog_offline(st->part.log)) {
        /* damaged below its recovery point: starting without the commits
         * would send every group back to auto.offset.reset */
        rc = sm_fail(err, errlen, SM_ECORRUPT, "the committed-offsets store is damaged: %s",
                     sm_plog_offline(st->part.log));
        sm_plog_close(st->part.log);
        st->part.log = NULL;
        return rc;
    }
    if (rc == SM_OK)
        sm_plog_set_user(st->part.log, &st->part);
    return rc;
}

/* Writes every live record into a fresh log beside the store, then swaps it in. */
static int compact(sm_broker *b)
{
    sm_offsets *st = b->offsets;
    if (st->part.acks_head)
        return SM_AGAIN; /* commits in flight: later */
    char tmp[4300], old[4300], err[256];
    snprintf(tmp, sizeof tmp, "%s.new", st->dir);
    snprintf(old, sizeof old, "%s.old", st->dir);
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    sm_log_config cfg;
    sm_log_config_default(&cfg);
    cfg.segment_bytes = 64LL << 20;
    cfg.retention_ms = -1;
    sm_plog *nl;
    if (sm_plog_open(&nl, tmp, &cfg, true, err, sizeof err) != SM_OK) {
        sm_warn("offsets store: compaction skipped: %s", err);
        return SM_EIO;
    }
    int64_t before = sm_plog_size(st->part.log);
    int rc = SM_OK;
    sm_offsets_batch rb;
    sm_offsets_batch_begin(&rb);
    const char *gk;
    void *gv;
    for (size_t it = 0; rc == SM_OK && sm_map_next(&b->groups, &it, &gk, &gv);) {
        sm_group *g = gv;
        group_key(&rb.key, g->id);
        group_value(&rb.val, g);
        rb_add(&rb, false);
        const char *ok;
        void *ov;
        for (size_t jt = 0; sm_map_next(&g->offsets, &jt, &ok, &ov);) {
            const char *colon = strrchr(ok, ':');
            char topic[SM_TOPIC_NAME_MAX + 1];
            snprintf(topic, sizeof topic, "%.*s", (int)(colon - ok), ok);
            offset_key(&rb.key, g->id, topic, atoi(colon + 1));
            offset_value(&rb.val, ov);
            rb_add(&rb, false);
        }
        if (rb.w.len >= BATCH_TARGET) {
            sm_batch_finish(&rb.bb);
            int64_t base;
            rc = rb.w.oom ? SM_ENOMEM
                          : sm_plog_append(nl, rb.w.p, rb.w.len, sm_wall_ms(), &base, err, sizeof err);
            sm_offsets_batch_release(&rb);
            sm_offsets_batch_begin(&rb);
        }
    }
    if (rc == SM_OK && rb.n) {
        sm_batch_finish(&rb.bb);
        int64_t base;
        rc = rb.w.oom ? SM_ENOMEM
                      : sm_plog_append(nl, rb.w.p, rb.w.len, sm_wall_ms(), &base, err, sizeof err);
    }
    sm_offsets_batch_release(&rb);
    if (rc == SM_OK)
        rc = sm_plog_sync(nl, err, sizeof err);
    int64_t after = sm_plog_size(nl);
    sm_plog_close(nl);
    if (rc != SM_OK) {
        sm_warn("offsets store: compaction failed: %s", err);
        nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        return rc;
    }
    /* swap: the new copy is whole and synced before the old one moves */
    char parent[4300];
    snprintf(parent, sizeof parent, "%s", st->dir);
    char *slash = strrchr(parent, '/');
    if (slash)
        *slash = 0;
    sm_plog_set_user(st->part.log, NULL);
    sm_plog_close(st->part.log);
    st->part.log = NULL;
    if (rename(st->dir, old) || rename(tmp, st->dir)) {
        sm_error("offsets store: swapping in the compacted copy failed: %s", strerror(errno));
        if (access(st->dir, F_OK) != 0)
            rename(old, st->dir);
    }
    if (sm_fsync_dir(parent) != SM_OK)
        sm_warn("offsets store: fsync of %s after the swap: %s", parent, strerror(errno));
    nftw(old, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    rc = open_log(b, true, err, sizeof err);
    if (rc != SM_OK) {
        sm_error("offsets store: reopening after compaction failed: %s", err);
        return rc;
    }
    sm_info("offsets store compacted: %lld -> %lld bytes (%lld live records)", (long long)before,
            (long long)after, (long long)st->live);
    return SM_OK;
}

static bool mostly_garbage(sm_offsets *st, int64_t min_bytes)
{
    int64_t size = sm_plog_size(st->part.log);
    return size > min_bytes && size > 4 * st->live * LIVE_RECORD_BYTES;
}

int sm_offsets_open(sm_broker *b, char *err, size_t errlen)
{
    sm_offsets *st = calloc(1, sizeof *st);
    if (!st)
        return SM_ENOMEM;
    sm_partition_init(&st->part, NULL, 0);
    snprintf(st->dir, sizeof st->dir, "%s/%s", b->cfg.log_dirs[0], STORE_DIR);
    b->offsets = st;
    /* finish or undo a compaction a crash interrupted */
    char tmp[4300], old[4300];
    snprintf(tmp, sizeof tmp, "%s.new", st->dir);
    snprintf(old, sizeof old, "%s.old", st->dir);
    if (access(st->dir, F_OK) != 0 && access(tmp, F_OK) == 0) {
        sm_warn("offsets store: completing an interrupted compaction");
        rename(tmp, st->dir);
    }
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    nftw(old, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    int rc = open_log(b, b->clean_start, err, errlen);
    if (rc != SM_OK) {
        free(st);
        b->offsets = NULL;
        return rc;
    }
    rc = replay(b, err, errlen);
    if (rc != SM_OK)
        return rc;
    if (mostly_garbage(st, 1 << 20))
        compact(b);
    return SM_OK;
}

void sm_offsets_close(sm_broker *b)
{
    sm_offsets *st = b->offsets;
    if (!st)
        return;
    if (st->part.log) {
        sm_partition_detach_waiters(b, &st->part, false);
        char err[256];
        if (sm_plog_sync(st->part.log, err, sizeof err) != SM_OK)
            sm_error("offsets store: %s", err);
        sm_plog_set_user(st->part.log, NULL);
        sm_plog_close(st->part.log);
    }
    free(st);
    b->offsets = NULL;
    const char *k;
    void *v;
    for (size_t it = 0; sm_map_next(&b->groups, &it, &k, &v);) {
        sm_map_del(&b->groups, k, strlen(k));
        sm_group_free(v);
    }
    sm_map_release(&b->groups);
}

void sm_offsets_housekeep(sm_broker *b)
{
    sm_offsets *st = b->offsets;
    if (!st || !st->part.log)
        return;
    int64_t now = sm_wall_ms();
    int64_t retention = b->cfg.offsets_retention_minutes * 60000;
    sm_offsets_batch rb;
    sm_offsets_batch_begin(&rb);
    const char *gk;
    void *gv;
    int expired = 0, dropped = 0;
    for (size_t it = 0; sm_map_next(&b->groups, &it, &gk, &gv);) {
        sm_group *g = gv;
        if (g->state != SM_GROUP_EMPTY || g->members)
            continue;
        const char *ok;
        void *ov;
        for (size_t jt = 0; sm_map_next(&g->offsets, &jt, &ok, &ov);) {
            sm_committed *c = ov;
            int64_t since = c->commit_ts > g->state_ts ? c->commit_ts : g->state_ts;
            if (now - since < retention)
                continue;
            const char *colon = strrchr(ok, ':');
            char topic[SM_TOPIC_NAME_MAX + 1];
            snprintf(topic, sizeof topic, "%.*s", (int)(colon - ok), ok);
            int32_t partition = atoi(colon + 1);
            offset_key(&rb.key, g->id, topic, partition);
            rb_add(&rb, true);
            sm_group_offset_set(g, topic, partition, NULL);
            expired++;
        }
        if (g->offsets.len == 0 && now - g->state_ts >= retention) {
            group_key(&rb.key, g->id);
            rb_add(&rb, true);
            sm_group_remove(b, g);
            dropped++;
        }
    }
    if (rb.n)
        rb_append(b, &rb);
    sm_offsets_batch_release(&rb);
    if (expired || dropped)
        sm_info("offsets retention: %d offset(s) expired, %d empty group(s) removed "
                "(offsets.retention.minutes=%lld)",
                expired, dropped, (long long)b->cfg.offsets_retention_minutes);
    if (mostly_garbage(st, COMPACT_MIN_BYTES))
        compact(b);
}

int sm_offsets_topic_deleted(sm_broker *b, const char *topic, char *err, size_t errlen)
{
    sm_offsets_batch rb;
    sm_offsets_batch_begin(&rb);
    size_t tlen = strlen(topic);
    int dropped = 0;
    const char *gk;
    void *gv;
    for (size_t it = 0; sm_map_next(&b->groups, &it, &gk, &gv);) {
        sm_group *g = gv;
        const char *ok;
        void *ov;
        for (size_t jt = 0; sm_map_next(&g->offsets, &jt, &ok, &ov);) {
            const char *colon = strrchr(ok, ':'); /* "topic:partition"; topics have no ':' */
            if (!colon || (size_t)(colon - ok) != tlen || memcmp(ok, topic, tlen))
                continue;
            int32_t partition = atoi(colon + 1);
            if (b->offsets) {
                offset_key(&rb.key, g->id, topic, partition);
                rb_add(&rb, true);
            }
            sm_group_offset_set(g, topic, partition, NULL);
            dropped++;
        }
    }
    int rc = SM_OK;
    if (rb.n && (rc = rb_append(b, &rb)) != SM_OK)
        sm_fail(err, errlen, rc, "offsets store: cannot write the tombstones of topic %s", topic);
    sm_offsets_batch_release(&rb);
    if (rc == SM_OK && rb.n)
        rc = sm_plog_sync(b->offsets->part.log, err, errlen);
    if (dropped)
        sm_info("deleted topic %s: %d committed offset(s) removed with it", topic, dropped);
    return rc;
}

/* ---- writes waiting for durability ------------------------------------------------------ */

static void write_done(sm_ack_wait *aw, int rc)
{
    sm_offsets_write_wait *pw = (sm_offsets_write_wait *)aw;
    sm_req *req = pw->req;
    sm_group *g = pw->group_id ? sm_map_get(&req->b->groups, pw->group_id, strlen(pw->group_id))
                               : NULL;
    for (int i = 0; i < pw->nupdates; i++) {
        sm_offset_update *u = &pw->updates[i];
        if (rc != SM_OK)
            *u->error_code = SM_KERR_KAFKA_STORAGE_ERROR;
        else if (g)
            sm_group_offset_set(g, u->topic, u->partition, &u->c);
    }
    req->pending = NULL;
    if (req->conn)
        pw->respond(pw);
    else
        sm_req_free(req);
}

void sm_offsets_write(sm_req *req, sm_offsets_batch *rb, sm_offsets_write_wait *pw)
{
    sm_broker *b = req->b;
    pw->req = req;
    if (rb_append(b, rb) != SM_OK) {
        write_done(&pw->base, SM_EIO);
        return;
    }
    req->pending = pw;
    pw->base.done = write_done;
    sm_partition_wait_durable(b, &b->offsets->part, &pw->base);
}

void sm_offsets_drain(sm_broker *b)
{
    if (b->offsets && b->offsets->part.log)
        sm_partition_detach_waiters(b, &b->offsets->part, false);
}
