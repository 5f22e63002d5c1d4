/* topics.c: the topic registry: create, delete, add partitions, topic
 * configs, and loading what is on disk at start-up.
 *
 * On disk a topic is its partition directories `<topic>-<n>` (spread over
 * log.dirs, each new one in the directory holding the fewest), plus its
 * config overrides in `<first log dir>/samsa-topics/<topic>.properties`.
 * Deleting renames each partition directory to `<dir>.<pid>-delete` first
 * (atomic, so a crash mid-delete never resurrects part of a topic), then
 * removes it; leftovers are removed at the next start. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "broker/broker.h"

#define MAX_PARTITIONS 10000

/* ---- topic-level configs ------------------------------------------------------ */

typedef enum { T_LONG, T_INT, T_TSTYPE, T_ONLY, T_FREE } tkind;

typedef struct tdef {
    const char *name;
    tkind kind;
    const char *broker_prop; /* the broker property that gives the default, or NULL */
    const char *fixed;       /* default text when there is no broker property; for T_ONLY the one value allowed */
    int64_t min, max;
} tdef;

static const tdef tdefs[] = {
    {"cleanup.policy", T_ONLY, NULL, "delete", 0, 0},
    {"compression.type", T_ONLY, NULL, "producer", 0, 0},
    {"delete.retention.ms", T_FREE, NULL, "86400000", 0, 0},
    {"file.delete.delay.ms", T_FREE, NULL, "60000", 0, 0},
    {"flush.messages", T_FREE, NULL, "9223372036854775807", 0, 0},
    {"flush.ms", T_FREE, NULL, "9223372036854775807", 0, 0},
    {"index.interval.bytes", T_INT, "log.index.interval.bytes", NULL, 0, INT32_MAX},
    {"max.compaction.lag.ms", T_FREE, NULL, "9223372036854775807", 0, 0},
    {"max.message.bytes", T_INT, "message.max.bytes", NULL, 0, INT32_MAX},
    {"message.downconversion.enable", T_FREE, NULL, "true", 0, 0},
    {"message.timestamp.after.max.ms", T_LONG, "log.message.timestamp.after.max.ms", NULL, 0,
     INT64_MAX},
    {"message.timestamp.before.max.ms", T_LONG, "log.message.timestamp.before.max.ms", NULL, 0,
     INT64_MAX},
    {"message.timestamp.difference.max.ms", T_LONG, NULL, "9223372036854775807", 0, INT64_MAX},
    {"message.timestamp.type", T_TSTYPE, "log.message.timestamp.type", NULL, 0, 0},
    {"min.cleanable.dirty.ratio", T_FREE, NULL, "0.5", 0, 0},
    {"min.compaction.lag.ms", T_FREE, NULL, "0", 0, 0},
    {"min.insync.replicas", T_ONLY, NULL, "1", 0, 0},
    {"preallocate", T_FREE, NULL, "false", 0, 0},
    {"retention.bytes", T_LONG, "log.retention.bytes", NULL, -1, INT64_MAX},
    {"retention.ms", T_LONG, "log.retention.ms", NULL, -1, INT64_MAX},
    {"segment.bytes", T_INT, "log.segment.bytes", NULL, 14, INT32_MAX},
    {"segment.index.bytes", T_FREE, NULL, "10485760", 0, 0},
    {"segment.jitter.ms", T_FREE, NULL, "0", 0, 0},
    {"segment.ms", T_LONG, "log.roll.ms", NULL, 1, INT64_MAX},
    {"unclean.leader.election.enable", T_FREE, NULL, "false", 0, 0},
};
#define NTDEFS (sizeof tdefs / sizeof tdefs[0])

static const tdef *find_tdef(const char *name)
{
    for (size_t i = 0; i < NTDEFS; i++)
        if (!strcmp(tdefs[i].name, name))
            return &tdefs[i];
    return NULL;
}

/* Checks one topic config; returns 0 or fills msg. */
static int check_tconfig(const char *name, const char *value, char *msg, size_t msglen)
{
    const tdef *d = find_tdef(name);
    if (!d)
        return sm_fail(msg, msglen, SM_EINVAL, "unknown topic config '%s'", name);
    int64_t v;
    switch (d->kind) {
    case T_LONG:
    case T_INT:
        if (sm_parse_i64(value, d->min, d->max, &v) != SM_OK)
            return sm_fail(msg, msglen, SM_EINVAL, "%s: '%s' is not a whole number in [%lld, %lld]",
                           name, value, (long long)d->min, (long long)d->max);
        return SM_OK;
    case T_TSTYPE:
        if (strcmp(value, "CreateTime") && strcmp(value, "LogAppendTime"))
            return sm_fail(msg, msglen, SM_EINVAL, "%s: '%s' is not CreateTime or LogAppendTime",
                           name, value);
        return SM_OK;
    case T_ONLY:
        if (strcmp(value, d->fixed))
            return sm_fail(msg, msglen, SM_EINVAL, "%s: only '%s' is supported by samsa-broker, "
                           "not '%s'", name, d->fixed, value);
        return SM_OK;
    case T_FREE:
        return SM_OK;
    }
    return SM_OK;
}

static void effective_cfg(sm_broker *b, const sm_props *ov, sm_topic_cfg *tc)
{
    tc->log = b->cfg.log;
    tc->max_message_bytes = b->cfg.message_max_bytes;
    tc->log_append_time = b->cfg.log_append_time;
    int64_t v;
    const char *s;
    if ((s = sm_props_get(ov, "retention.ms")) && sm_parse_i64(s, -1, INT64_MAX, &v) == SM_OK)
        tc->log.retention_ms = v;
    if ((s = sm_props_get(ov, "retention.bytes")) && sm_parse_i64(s, -1, INT64_MAX, &v) == SM_OK)
        tc->log.retention_bytes = v;
    if ((s = sm_props_get(ov, "segment.bytes")) && sm_parse_i64(s, 14, INT32_MAX, &v) == SM_OK)
        tc->log.segment_bytes = v;
    if ((s = sm_props_get(ov, "segment.ms")) && sm_parse_i64(s, 1, INT64_MAX, &v) == SM_OK)
        tc->log.segment_ms = v;
    if ((s = sm_props_get(ov, "index.interval.bytes")) && sm_parse_i64(s, 0, INT32_MAX, &v) == SM_OK)
        tc->log.index_interval_bytes = (int32_t)v;
    if ((s = sm_props_get(ov, "max.message.bytes")) && sm_parse_i64(s, 0, INT32_MAX, &v) == SM_OK)
        tc->max_message_bytes = (int32_t)v;
    if ((s = sm_props_get(ov, "message.timestamp.type")))
        tc->log_append_time = !strcmp(s, "LogAppendTime");
    /* each bound: the topic's own, else the topic's older difference.max.ms
     * (Kafka 3.6-3.9's fallback), else the broker's */
    tc->ts_before_max_ms = b->cfg.ts_before_max_ms;
    tc->ts_after_max_ms = b->cfg.ts_after_max_ms;
    if ((s = sm_props_get(ov, "message.timestamp.difference.max.ms")) &&
        sm_parse_i64(s, 0, INT64_MAX, &v) == SM_OK)
        tc->ts_before_max_ms = tc->ts_after_max_ms = v;
    if ((s = sm_props_get(ov, "message.timestamp.before.max.ms")) &&
        sm_parse_i64(s, 0, INT64_MAX, &v) == SM_OK)
        tc->ts_before_max_ms = v;
    if ((s = sm_props_get(ov, "message.timestamp.after.max.ms")) &&
        sm_parse_i64(s, 0, INT64_MAX, &v) == SM_OK)
        tc->ts_after_max_ms = v;
}

void sm_topic_config_visit(sm_broker *b, sm_topic *t, sm_topic_config_fn fn, void *arg)
{
    char buf[64];
    for (size_t i = 0; i < NTDEFS; i++) {
        const tdef *d = &tdefs[i];
        const char *ov = sm_props_get(&t->overrides, d->name);
        if (ov) {
            fn(d->name, ov, 1 /* DYNAMIC_TOPIC_CONFIG */, false, arg);
            continue;
        }
        int source = 5; /* DEFAULT_CONFIG */
        const char *val = d->fixed;
        if (d->broker_prop) {
            if (sm_props_find(&b->cfg.all, d->broker_prop))
                source = 4; /* STATIC_BROKER_CONFIG */
            const sm_topic_cfg *c = &t->cfg;
            if (!strcmp(d->name, "retention.ms"))
                snprintf(buf, sizeof buf, "%lld", (long long)c->log.retention_ms);
            else if (!strcmp(d->name, "retention.bytes"))
                snprintf(buf, sizeof buf, "%lld", (long long)c->log.retention_bytes);
            else if (!strcmp(d->name, "segment.bytes"))
                snprintf(buf, sizeof buf, "%lld", (long long)c->log.segment_bytes);
            else if (!strcmp(d->name, "segment.ms"))
                snprintf(buf, sizeof buf, "%lld", (long long)c->log.segment_ms);
            else if (!strcmp(d->name, "index.interval.bytes"))
                snprintf(buf, sizeof buf, "%d", c->log.index_interval_bytes);
            else if (!strcmp(d->name, "max.message.bytes"))
                snprintf(buf, sizeof buf, "%d", c->max_message_bytes);
            else if (!strcmp(d->name, "message.timestamp.before.max.ms"))
                snprintf(buf, sizeof buf, "%lld", (long long)c->ts_before_max_ms);
            else if (!strcmp(d->name, "message.timestamp.after.max.ms"))
                snprintf(buf, sizeof buf, "%lld", (long long)c->ts_after_max_ms);
            else
                snprintf(buf, sizeof buf, "%s", c->log_append_time ? "LogAppendTime" : "CreateTime");
            val = buf;
            if (!strcmp(d->name, "retention.ms") &&
                (sm_props_find(&b->cfg.all, "log.retention.hours") ||
                 sm_props_find(&b->cfg.all, "log.retention.minutes")))
                source = 4;
            if (!strcmp(d->name, "segment.ms") && sm_props_find(&b->cfg.all, "log.roll.hours"))
                source = 4;
        }
        fn(d->name, val, source, false, arg);
    }
}

/* ---- files ---------------------------------------------------------------------- */

static int config_path(sm_broker *b, const char *topic, char *out, size_t outlen)
{
    return snprintf(out, outlen, "%s/samsa-topics/%s.properties", b->cfg.log_dirs[0], topic) <
                   (int)outlen
               ? SM_OK
               : SM_ERANGE;
}

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int write_topic_config(sm_broker *b, const char *name, const sm_props *overrides, char *msg,
                              size_t msglen)
{
    char dir[4200], path[4400], tmp[4500];
    snprintf(dir, sizeof dir, "%s/samsa-topics", b->cfg.log_dirs[0]);
    if (mkdir(dir, 0755) && errno != EEXIST)
        return sm_fail(msg, msglen, SM_EIO, "cannot create %s: %s", dir, strerror(errno));
    if (config_path(b, name, path, sizeof path) != SM_OK)
        return sm_fail(msg, msglen, SM_ERANGE, "path too long");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return sm_fail(msg, msglen, SM_EIO, "cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "# topic-level configs of %s, written by samsa-broker\n", name);
    for (size_t i = 0; i < overrides->n; i++)
        fprintf(f, "%s=%s\n", overrides->v[i].key, overrides->v[i].value);
    if (fflush(f) || fsync(fileno(f))) {
        fclose(f);
        return sm_fail(msg, msglen, SM_EIO, "cannot write %s: %s", tmp, strerror(errno));
    }
    fclose(f);
    if (rename(tmp, path))
        return sm_fail(msg, msglen, SM_EIO, "cannot rename %s: %s", tmp, strerror(errno));
    fsync_path(dir, O_RDONLY | O_DIRECTORY);
    return SM_OK;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) ? -1 : 0;
}

static int rm_rf(const char *path)
{
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- partitions ------------------------------------------------------------------ */

static int count_partitions_in(sm_broker *b, const char *dir)
{
    int n = 0;
    size_t dl = strlen(dir);
    const char *name;
    void *v;
    for (size_t it = 0; sm_map_next(&b->topics, &it, &name, &v);) {
        sm_topic *t = v;
        for (int32_t i = 0; i < t->npart; i++) {
            if (!t->parts[i])
                continue; /* a gap being filled at start-up (sm_topics_load) */
            const char *pd = sm_plog_dir(t->parts[i]->log);
            if (!strncmp(pd, dir, dl) && pd[dl] == '/')
                n++;
        }
    }
    return n;
}

static const char *pick_log_dir(sm_broker *b)
{
    if (b->cfg.n_log_dirs == 1)
        return b->cfg.log_dirs[0];
    int best = 0, best_n = INT_MAX;
    for (int i = 0; i < b->cfg.n_log_dirs; i++) {
        int n = count_partitions_in(b, b->cfg.log_dirs[i]);
        if (n < best_n) {
            best_n = n;
            best = i;
        }
    }
    return b->cfg.log_dirs[best];
}

static sm_partition *partition_open(sm_broker *b, sm_topic *t, int32_t index, const char *path,
                                    bool clean, char *msg, size_t msglen)
{
    sm_partition *p = calloc(1, sizeof *p);
    if (!p) {
        sm_fail(msg, msglen, SM_ENOMEM, "out of memory");
        return NULL;
    }
    p->topic = t;
    p->index = index;
    p->fetch_waiters.next = p->fetch_waiters.prev = &p->fetch_waiters;
    if (sm_plog_open(&p->log, path, &t->cfg.log, clean, msg, msglen) != SM_OK) {
        free(p);
        return NULL;
    }
    sm_plog_set_user(p->log, p);
    b->npartitions++;
    return p;
}

/* deleting: the partition's data is going away (waiters get
 * UNKNOWN_TOPIC_OR_PARTITION); else it is a shutdown (waiters are answered
 * after an fsync). */
static void partition_close(sm_broker *b, sm_partition *p, bool deleting)
{
    sm_partition_detach_waiters(b, p, deleting);
    sm_idem_free(p);
    sm_plog_set_user(p->log, NULL);
    sm_plog_close(p->log);
    b->npartitions--;
    free(p);
}

static void topic_free(sm_topic *t)
{
    free(t->parts);
    sm_props_release(&t->overrides);
    free(t->name);
    free(t);
}

static void remove_partition_dir(const char *dir);

/* ---- lookups and creation --------------------------------------------------------- */

sm_topic *sm_topic_find(sm_broker *b, sm_str name)
{
    if (name.len <= 0)
        return NULL;
    return sm_map_get(&b->topics, name.p, (size_t)name.len);
}

/* A partition holds no descriptor while it is cold (storage opens its
 * segment files on demand within the broker's budget, broker.h), so the
 * open-file limit does not bound the number of partitions; creating one
 * opens a few files for a moment, out of the reserve. Past what the budget
 * keeps open for hot partitions, it is said once: cold partitions are then
 * closed and reopened as they are used. */
static bool fd_budget_ok(sm_broker *b, int32_t more, char *msg, size_t msglen)
{
    static bool said;
    int64_t hot = (int64_t)(b->npartitions + more) * SM_FDS_PER_PARTITION;
    (void)msg;
    (void)msglen;
    if (!said && b->fd_limit > 0 && hot > b->seg_fd_budget) {
        said = true;
        sm_info("%d partitions: more than the %d descriptors kept for segment files can hold open "
                "at once (open-file limit %lld); partitions not in use are closed and reopened "
                "on demand",
                b->npartitions + more, b->seg_fd_budget, (long long)b->fd_limit);
    }
    return true;
}

static int16_t check_configs(const sm_props *configs, char *msg, size_t msglen)
{
    for (size_t i = 0; configs && i < configs->n; i++)
        if (check_tconfig(configs->v[i].key, configs->v[i].value, msg, msglen) != SM_OK)
            return SM_KERR_INVALID_CONFIG;
    return SM_KERR_NONE;
}

int16_t sm_topic_create(sm_broker *b, sm_str name, int32_t partitions, int16_t replication,
                        const sm_props *configs, bool validate_only, char *msg, size_t msglen,
                        sm_topic **out)
{
    if (out)
        *out = NULL;
    if (!sm_topic_name_valid(name.p, name.len)) {
        sm_fail(msg, msglen, SM_EINVAL,
                "topic name '%.*s' is invalid: use 1-249 characters of [a-zA-Z0-9._-], not '.' "
                "or '..'", name.len > 0 ? (int)(name.len > 300 ? 300 : name.len) : 0,
                name.len > 0 ? name.p : "");
        return SM_KERR_INVALID_TOPIC_EXCEPTION;
    }
    if (sm_topic_find(b, name)) {
        sm_fail(msg, msglen, SM_EEXIST, "topic '%.*s' already exists", (int)name.len, name.p);
        return SM_KERR_TOPIC_ALREADY_EXISTS;
    }
    if (partitions == -1)
        partitions = b->cfg.num_partitions;
    if (partitions <= 0 || partitions > MAX_PARTITIONS) {
        sm_fail(msg, msglen, SM_EINVAL, "number of partitions must be in [1, %d], got %d",
                MAX_PARTITIONS, partitions);
        return SM_KERR_INVALID_PARTITIONS;
    }
    if (replication != -1 && replication != 1) {
        sm_fail(msg, msglen, SM_EINVAL,
                "replication factor %d is not possible on a single-node samsa-broker; use 1 (or "
                "-1 for the default)", replication);
        return SM_KERR_INVALID_REPLICATION_FACTOR;
    }
    int16_t kerr = check_configs(configs, msg, msglen);
    if (kerr != SM_KERR_NONE)
        return kerr;
    if (!fd_budget_ok(b, partitions, msg, msglen))
        return SM_KERR_INVALID_PARTITIONS;
    if (validate_only)
        return SM_KERR_NONE;

    sm_topic *t = calloc(1, sizeof *t);
    if (!t || !(t->name = strndup(name.p, (size_t)name.len)) ||
        !(t->parts = calloc((size_t)partitions, sizeof *t->parts))) {
        if (t) {
            free(t->name);
            free(t);
        }
        sm_fail(msg, msglen, SM_ENOMEM, "out of memory");
        return SM_KERR_UNKNOWN_SERVER_ERROR;
    }
    sm_props_init(&t->overrides);
    for (size_t i = 0; configs && i < configs->n; i++)
        sm_props_set(&t->overrides, configs->v[i].key, configs->v[i].value, "topic");
    effective_cfg(b, &t->overrides, &t->cfg);
    if (t->overrides.n && write_topic_config(b, t->name, &t->overrides, msg, msglen) != SM_OK) {
        topic_free(t);
        return SM_KERR_KAFKA_STORAGE_ERROR;
    }
    /* insert first so that pick_log_dir counts this topic's new partitions */
    if (sm_map_put(&b->topics, t->name, strlen(t->name), t) != SM_OK) {
        topic_free(t);
        sm_fail(msg, msglen, SM_ENOMEM, "out of memory");
        return SM_KERR_UNKNOWN_SERVER_ERROR;
    }
    for (int32_t i = 0; i < partitions; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s-%d", pick_log_dir(b), t->name, i);
        sm_partition *p = partition_open(b, t, i, path, true, msg, msglen);
        if (!p) {
            sm_error("creating topic %s: %s", t->name, msg);
            remove_partition_dir(path); /* or the next start would see a partition */
            sm_topic_delete(b, t);
            return SM_KERR_KAFKA_STORAGE_ERROR;
        }
        t->parts[i] = p;
        t->npart = i + 1;
    }
    sm_info("created topic %s with %d partition(s)%s", t->name, partitions,
            t->overrides.n ? " and topic configs" : "");
    if (out)
        *out = t;
    return SM_KERR_NONE;
}

void sm_autocreate_init(sm_broker *b, sm_autocreate *ac)
{
    *ac = (sm_autocreate){b->cfg.auto_create_max_partitions, 0, 0};
}

void sm_autocreate_report(sm_req *req, const sm_autocreate *ac)
{
    if (ac->topics_held == 0)
        return;
    sm_log_limited(SM_LOG_WARN,
                   "%s from %s named more new topics than it may auto-create: created %d, "
                   "answered %d UNKNOWN_TOPIC_OR_PARTITION "
                   "(samsa.auto.create.max.partitions.per.request=%d); retries create the rest",
                   sm_api_name(req->hdr.api_key), req->conn ? req->conn->peer : "-",
                   ac->topics_created, ac->topics_held, req->b->cfg.auto_create_max_partitions);
}

sm_topic *sm_topic_get_or_autocreate(sm_broker *b, sm_str name, bool allow, sm_autocreate *ac,
                                     int16_t *err)
{
    sm_topic *t = sm_topic_find(b, name);
    if (t)
        return t;
    if (!sm_topic_name_valid(name.p, name.len)) {
        *err = SM_KERR_INVALID_TOPIC_EXCEPTION;
        return NULL;
    }
    if (!allow || !b->cfg.auto_create_topics || b->stopping) {
        *err = SM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return NULL;
    }
    if (ac->partitions_left <= 0) {
        ac->topics_held++;
        *err = SM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return NULL;
    }
    char msg[512];
    int16_t kerr = sm_topic_create(b, name, -1, -1, NULL, false, msg, sizeof msg, &t);
    if (kerr != SM_KERR_NONE) {
        sm_log_limited(SM_LOG_WARN, "auto-creating topic %.*s failed: %s", (int)name.len, name.p,
                       msg);
        *err = kerr == SM_KERR_TOPIC_ALREADY_EXISTS ? SM_KERR_NONE : kerr;
        return kerr == SM_KERR_TOPIC_ALREADY_EXISTS ? sm_topic_find(b, name) : NULL;
    }
    ac->partitions_left -= t->npart;
    ac->topics_created++;
    *err = SM_KERR_NONE;
    return t;
}

/* Removes a partition directory: rename aside, then delete. */
static void remove_partition_dir(const char *dir)
{
    char aside[4500];
    if (snprintf(aside, sizeof aside, "%s.%d-delete", dir, (int)getpid()) >= (int)sizeof aside) {
        sm_warn("cannot remove %s: path too long", dir);
        return;
    }
    if (rename(dir, aside) == 0) {
        char parent[4400];
        snprintf(parent, sizeof parent, "%s", dir);
        char *slash = strrchr(parent, '/');
        if (slash) {
            *slash = 0;
            fsync_path(parent, O_RDONLY | O_DIRECTORY);
        }
        if (rm_rf(aside))
            sm_warn("could not remove %s: %s", aside, strerror(errno));
    } else if (errno != ENOENT) {
        sm_warn("could not rename %s for deletion: %s", dir, strerror(errno));
    }
}

int16_t sm_topic_delete(sm_broker *b, sm_topic *t)
{
    sm_map_del(&b->topics, t->name, strlen(t->name));
    for (int32_t i = 0; i < t->npart; i++) {
        char dir[4400];
        snprintf(dir, sizeof dir, "%s", sm_plog_dir(t->parts[i]->log));
        partition_close(b, t->parts[i], true);
        remove_partition_dir(dir);
    }
    char path[4400];
    if (config_path(b, t->name, path, sizeof path) == SM_OK)
        unlink(path);
    sm_info("deleted topic %s (%d partition(s))", t->name, t->npart);
    topic_free(t);
    return SM_KERR_NONE;
}

int16_t sm_topic_add_partitions(sm_broker *b, sm_topic *t, int32_t total, bool validate_only,
                                char *msg, size_t msglen)
{
    if (total <= t->npart) {
        sm_fail(msg, msglen, SM_EINVAL, "topic %s has %d partitions; the new count %d must be "
                "larger", t->name, t->npart, total);
        return SM_KERR_INVALID_PARTITIONS;
    }
    if (total > MAX_PARTITIONS) {
        sm_fail(msg, msglen, SM_EINVAL, "at most %d partitions per topic", MAX_PARTITIONS);
        return SM_KERR_INVALID_PARTITIONS;
    }
    if (!fd_budget_ok(b, total - t->npart, msg, msglen))
        return SM_KERR_INVALID_PARTITIONS;
    if (validate_only)
        return SM_KERR_NONE;
    sm_partition **np = realloc(t->parts, (size_t)total * sizeof *np);
    if (!np) {
        sm_fail(msg, msglen, SM_ENOMEM, "out of memory");
        return SM_KERR_UNKNOWN_SERVER_ERROR;
    }
    t->parts = np;
    int32_t old = t->npart;
    for (int32_t i = old; i < total; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s-%d", pick_log_dir(b), t->name, i);
        sm_partition *p = partition_open(b, t, i, path, true, msg, msglen);
        if (!p) {
            remove_partition_dir(path);
            return SM_KERR_KAFKA_STORAGE_ERROR;
        }
        t->parts[i] = p;
        t->npart = i + 1;
    }
    sm_info("topic %s: partitions %d -> %d", t->name, old, total);
    return SM_KERR_NONE;
}

int16_t sm_topic_set_configs(sm_broker *b, sm_topic *t, const sm_props *configs,
                             bool validate_only, char *msg, size_t msglen)
{
    int16_t kerr = check_configs(configs, msg, msglen);
    if (kerr != SM_KERR_NONE || validate_only)
        return kerr;
    sm_props next;
    sm_props_init(&next);
    for (size_t i = 0; configs && i < configs->n; i++) {
        if (sm_props_set(&next, configs->v[i].key, configs->v[i].value, "topic") != SM_OK) {
            sm_props_release(&next);
            sm_fail(msg, msglen, SM_ENOMEM, "out of memory");
            return SM_KERR_UNKNOWN_SERVER_ERROR;
        }
    }
    /* on disk first: memory never holds what a restart would not */
    if (write_topic_config(b, t->name, &next, msg, msglen) != SM_OK) {
        sm_props_release(&next);
        return SM_KERR_KAFKA_STORAGE_ERROR;
    }
    sm_props_release(&t->overrides);
    t->overrides = next;
    effective_cfg(b, &t->overrides, &t->cfg);
    for (int32_t i = 0; i < t->npart; i++)
        sm_plog_set_config(t->parts[i]->log, &t->cfg.log);
    sm_info("topic %s: configs replaced (%zu override(s))", t->name, t->overrides.n);
    return SM_KERR_NONE;
}

/* ---- start-up and shutdown ------------------------------------------------------- */

/* Splits "<topic>-<n>" into the topic and n; returns 0 if it is not one. */
static int parse_partition_dir(const char *name, char *topic, size_t tlen, int32_t *index)
{
    const char *dash = strrchr(name, '-');
    if (!dash || dash == name || !dash[1])
        return 0;
    int64_t v = 0;
    for (const char *q = dash + 1; *q; q++) {
        if (*q < '0' || *q > '9')
            return 0;
        v = v * 10 + (*q - '0');
        if (v >= MAX_PARTITIONS)
            return 0;
    }
    size_t n = (size_t)(dash - name);
    if (n >= tlen || !sm_topic_name_valid(name, (int32_t)n))
        return 0;
    memcpy(topic, name, n);
    topic[n] = 0;
    *index = (int32_t)v;
    return 1;
}

typedef struct found_part {
    char topic[SM_TOPIC_NAME_MAX + 1];
    int32_t index;
    char path[4400];
} found_part;

static int cmp_found(const void *a, const void *b)
{
    const found_part *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

int sm_topics_load(sm_broker *b, char *err, size_t errlen)
{
    found_part *found = NULL;
    size_t n = 0, cap = 0;
    int rc = SM_OK;
    for (int d = 0; d < b->cfg.n_log_dirs; d++) {
        DIR *dir = opendir(b->cfg.log_dirs[d]);
        if (!dir)
            continue;
        struct dirent *de;
        while ((de = readdir(dir))) {
            char full[4400];
            snprintf(full, sizeof full, "%s/%s", b->cfg.log_dirs[d], de->d_name);
            size_t nl = strlen(de->d_name);
            if (nl > 7 && !strcmp(de->d_name + nl - 7, "-delete")) {
                sm_info("removing %s, left over from a topic deletion", full);
                rm_rf(full);
                continue;
            }
            found_part fp;
            if (!parse_partition_dir(de->d_name, fp.topic, sizeof fp.topic, &fp.index))
                continue;
            struct stat st;
            if (stat(full, &st) || !S_ISDIR(st.st_mode))
                continue;
            snprintf(fp.path, sizeof fp.path, "%s", full);
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                found_part *nf = realloc(found, cap * sizeof *nf);
                if (!nf) {
                    closedir(dir);
                    free(found);
                    return SM_ENOMEM;
                }
                found = nf;
            }
            found[n++] = fp;
        }
        closedir(dir);
    }
    if (n)
        qsort(found, n, sizeof *found, cmp_found);
    for (size_t i = 0; i < n && rc == SM_OK;) {
        size_t j = i;
        while (j < n && !strcmp(found[j].topic, found[i].topic))
            j++;
        /* partitions i..j-1 of one topic, sorted by index */
        int32_t count = found[j - 1].index + 1;
        sm_topic *t = calloc(1, sizeof *t);
        if (!t || !(t->name = strdup(found[i].topic)) ||
            !(t->parts = calloc((size_t)count, sizeof *t->parts))) {
            if (t) {
                free(t->name);
                free(t);
            }
            rc = SM_ENOMEM;
            break;
        }
        sm_props_init(&t->overrides);
        char path[4400];
        if (config_path(b, t->name, path, sizeof path) == SM_OK &&
            access(path, F_OK) == 0 &&
            sm_props_load_file(&t->overrides, path, err, errlen) != SM_OK) {
            sm_warn("topic %s: ignoring unreadable configs: %s", t->name, err);
            sm_props_release(&t->overrides);
            sm_props_init(&t->overrides);
        }
        effective_cfg(b, &t->overrides, &t->cfg);
        sm_map_put(&b->topics, t->name, strlen(t->name), t);
        for (size_t k = i; k < j; k++) {
            if (k > i && found[k].index == found[k - 1].index) {
                sm_warn("partition %s-%d exists in two log dirs; using %s", t->name,
                        found[k].index, found[k - 1].path);
                continue;
            }
            sm_partition *p = partition_open(b, t, found[k].index, found[k].path, b->clean_start,
                                             err, errlen);
            if (!p) {
                rc = SM_EIO;
                break;
            }
            t->parts[found[k].index] = p;
        }
        t->npart = count;
        /* a gap (a crash while partitions were being added) gets an empty partition */
        for (int32_t k = 0; k < count && rc == SM_OK; k++) {
            if (t->parts[k])
                continue;
            sm_warn("topic %s: partition %d missing on disk; creating it empty", t->name, k);
            snprintf(path, sizeof path, "%s/%s-%d", pick_log_dir(b), t->name, k);
            if (!(t->parts[k] = partition_open(b, t, k, path, true, err, errlen)))
                rc = SM_EIO;
        }
        if (rc != SM_OK) {
            /* partial topic: close what was opened */
            for (int32_t k = 0; k < count; k++)
                if (t->parts[k])
                    partition_close(b, t->parts[k], true);
            sm_map_del(&b->topics, t->name, strlen(t->name));
            topic_free(t);
        }
        i = j;
    }
    free(found);
    return rc;
}

int sm_topics_close_all(sm_broker *b)
{
    int rc = SM_OK;
    const char *name;
    void *v;
    for (size_t it = 0; sm_map_next(&b->topics, &it, &name, &v);) {
        sm_topic *t = v;
        for (int32_t i = 0; i < t->npart; i++) {
            sm_partition *p = t->parts[i];
            char err[256];
            if (sm_plog_sync(p->log, err, sizeof err) != SM_OK) {
                sm_error("shutdown: %s", err);
                rc = SM_EIO;
            }
            partition_close(b, p, false);
        }
        sm_map_del(&b->topics, t->name, strlen(t->name));
        topic_free(t);
    }
    return rc;
}
