/* topics.c: the topic registry: create, delete, add partitions, topic
 * configs, and loading what is on disk at start-up.
 *
 * On disk a topic is its partition directories `<topic>-<n>` (spread over
 * log.dirs, each new one in the directory holding the fewest), plus its
 * config overrides in `<first log dir>/samsa-topics/<topic>.properties`
 * (split into a subdirectory for the longest names). The one idea: a
 * change that touches several directories (create, delete, add
 * partitions) is recorded first in a change record, made durable, and the
 * record is cleared once the change is complete on disk; a crash in
 * between leaves the record, and the next start finishes a deletion or
 * undoes a creation before loading anything, so a topic is never found
 * half made or half deleted. A partition directory is deleted Kafka's way:
 * renamed to `<topic>-<n>.<unique id>-delete` (the topic cut short to fit),
 * then removed; leftovers are removed at the next start. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsync.h"
#include "base/crc32c.h"
#include "base/err.h"
#include "base/log.h"
#include "broker/broker.h"
#include "broker/conn.h"
#include "broker/group.h"
#include "broker/idempotence.h"
#include "broker/partition.h"
#include "broker/topics.h"
#include "proto/kafka.h"

#define MAX_PARTITIONS 10000

/* ---- topic-level configs ------------------------------------------------------ */

/* The kinds of value a topic config takes, checked as Kafka's LogConfig
 * checks them (INVALID_CONFIG otherwise). */
typedef enum {
    T_LONG,     /* a whole number in [min, max] */
    T_INT,      /* the same, an int */
    T_TSTYPE,   /* CreateTime or LogAppendTime */
    T_ONLY,     /* exactly `fixed` (what samsa-broker supports) */
    T_BOOL,     /* true or false, any case */
    T_RATIO,    /* a number in [0, 1] */
    T_GZIP,     /* -1 or 1..9 */
    T_REPLICAS, /* '*' or partition:broker,... (throttled replicas) */
    T_FREE,     /* any text */
} tkind;

typedef struct tdef {
    const char *name;
    tkind kind;
    const char *broker_prop; /* the broker property that gives the default, or NULL */
    const char *fixed;       /* default text when there is no broker property; for T_ONLY the one value allowed */
    int64_t min, max;
    bool legacy;             /* a Kafka 2.x/3.x name that Kafka 4 removed: accepted (so older
                              * applications and tools work), listed only when set */
} tdef;

#define I64MAX INT64_MAX
static const tdef tdefs[] = {
    {"cleanup.policy", T_ONLY, NULL, "delete", 0, 0, false},
    {"compression.gzip.level", T_GZIP, NULL, "-1", 0, 0, false},
    {"compression.lz4.level", T_INT, NULL, "9", 1, 17, false},
    {"compression.type", T_ONLY, NULL, "producer", 0, 0, false},
    {"compression.zstd.level", T_INT, NULL, "3", -131072, 22, false},
    {"delete.retention.ms", T_LONG, NULL, "86400000", 0, I64MAX, false},
    {"file.delete.delay.ms", T_LONG, NULL, "60000", 0, I64MAX, false},
    {"flush.messages", T_LONG, NULL, "9223372036854775807", 1, I64MAX, false},
    {"flush.ms", T_LONG, NULL, "9223372036854775807", 0, I64MAX, false},
    {"follower.replication.throttled.replicas", T_REPLICAS, NULL, "", 0, 0, false},
    {"index.interval.bytes", T_INT, "log.index.interval.bytes", NULL, 0, INT32_MAX, false},
    {"leader.replication.throttled.replicas", T_REPLICAS, NULL, "", 0, 0, false},
    {"local.retention.bytes", T_LONG, NULL, "-2", -2, I64MAX, false},
    {"local.retention.ms", T_LONG, NULL, "-2", -2, I64MAX, false},
    {"max.compaction.lag.ms", T_LONG, NULL, "9223372036854775807", 1, I64MAX, false},
    {"max.message.bytes", T_INT, "message.max.bytes", NULL, 0, INT32_MAX, false},
    {"message.downconversion.enable", T_BOOL, NULL, "true", 0, 0, true},
    {"message.format.version", T_FREE, NULL, "3.0-IV1", 0, 0, true},
    {"message.timestamp.after.max.ms", T_LONG, "log.message.timestamp.after.max.ms", NULL, 0,
     I64MAX, false},
    {"message.timestamp.before.max.ms", T_LONG, "log.message.timestamp.before.max.ms", NULL, 0,
     I64MAX, false},
    {"message.timestamp.difference.max.ms", T_LONG, NULL, "9223372036854775807", 0, I64MAX, true},
    {"message.timestamp.type", T_TSTYPE, "log.message.timestamp.type", NULL, 0, 0, false},
    {"min.cleanable.dirty.ratio", T_RATIO, NULL, "0.5", 0, 0, false},
    {"min.compaction.lag.ms", T_LONG, NULL, "0", 0, I64MAX, false},
    {"min.insync.replicas", T_ONLY, NULL, "1", 0, 0, false},
    {"preallocate", T_BOOL, NULL, "false", 0, 0, false},
    {"remote.log.copy.disable", T_BOOL, NULL, "false", 0, 0, false},
    {"remote.log.delete.on.disable", T_BOOL, NULL, "false", 0, 0, false},
    {"remote.storage.enable", T_ONLY, NULL, "false", 0, 0, false},
    {"retention.bytes", T_LONG, "log.retention.bytes", NULL, -1, I64MAX, false},
    {"retention.ms", T_LONG, "log.retention.ms", NULL, -1, I64MAX, false},
    {"segment.bytes", T_INT, "log.segment.bytes", NULL, 14, INT32_MAX, false},
    {"segment.index.bytes", T_INT, NULL, "10485760", 4, INT32_MAX, false},
    {"segment.jitter.ms", T_LONG, NULL, "0", 0, I64MAX, false},
    {"segment.ms", T_LONG, "log.roll.ms", NULL, 1, I64MAX, false},
    {"unclean.leader.election.enable", T_BOOL, NULL, "false", 0, 0, false},
};
#define NTDEFS (sizeof tdefs / sizeof tdefs[0])

static const tdef *find_tdef(const char *name)
{
    for (size_t i = 0; i < NTDEFS; i++)
        if (!strcmp(tdefs[i].name, name))
            return &tdefs[i];
    return NULL;
}

/* '*' or a comma-separated list of <partition>:<broker> (spaces allowed
 * around the items), as Kafka's throttled-replicas validator wants. */
static bool replicas_list_ok(const char *v)
{
    while (*v == ' ')
        v++;
    if (!*v || !strcmp(v, "*"))
        return true;
    for (;;) {
        while (*v == ' ')
            v++;
        if (*v < '0' || *v > '9')
            return false;
        while (*v >= '0' && *v <= '9')
            v++;
        if (*v++ != ':' || *v < '0' || *v > '9')
            return false;
        while (*v >= '0' && *v <= '9')
            v++;
        while (*v == ' ')
            v++;
        if (!*v)
            return true;
        if (*v++ != ',')
            return false;
    }
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
    case T_GZIP:
        if (sm_parse_i64(value, -1, 9, &v) != SM_OK || v == 0)
            return sm_fail(msg, msglen, SM_EINVAL, "%s: '%s' is not -1 or 1 to 9", name, value);
        return SM_OK;
    case T_BOOL:
        if (strcasecmp(value, "true") && strcasecmp(value, "false"))
            return sm_fail(msg, msglen, SM_EINVAL, "%s: '%s' is not true or false", name, value);
        return SM_OK;
    case T_RATIO: {
        char *end;
        errno = 0;
        double x = strtod(value, &end);
        if (!*value || *end || errno || !(x >= 0.0 && x <= 1.0))
            return sm_fail(msg, msglen, SM_EINVAL, "%s: '%s' is not a number from 0 to 1", name,
                           value);
        return SM_OK;
    }
    case T_REPLICAS:
        if (!replicas_list_ok(value))
            return sm_fail(msg, msglen, SM_EINVAL, "%s: '%s' is not '*' or a list of "
                           "[partitionId]:[brokerId]", name, value);
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

/* What topic config d falls back to without the topic's own value, given the
 * topic's effective values c: its value (into buf), the name it comes from
 * (the broker property, else the topic config itself) and Kafka's
 * ConfigSource (4 STATIC_BROKER_CONFIG when the broker's configs set it, else
 * 5 DEFAULT_CONFIG). */
static int fallback(const sm_broker *b, const tdef *d, const sm_topic_cfg *c, char *buf,
                    size_t buflen, const char **value, const char **from)
{
    *value = d->fixed;
    *from = d->name;
    if (!d->broker_prop)
        return 5; /* DEFAULT_CONFIG */
    int source = sm_props_find(&b->cfg.all, d->broker_prop) ? 4 : 5; /* STATIC_BROKER_CONFIG */
    if (!strcmp(d->name, "retention.ms"))
        snprintf(buf, buflen, "%lld", (long long)c->log.retention_ms);
    else if (!strcmp(d->name, "retention.bytes"))
        snprintf(buf, buflen, "%lld", (long long)c->log.retention_bytes);
    else if (!strcmp(d->name, "segment.bytes"))
        snprintf(buf, buflen, "%lld", (long long)c->log.segment_bytes);
    else if (!strcmp(d->name, "segment.ms"))
        snprintf(buf, buflen, "%lld", (long long)c->log.segment_ms);
    else if (!strcmp(d->name, "index.interval.bytes"))
        snprintf(buf, buflen, "%d", c->log.index_interval_bytes);
    else if (!strcmp(d->name, "max.message.bytes"))
        snprintf(buf, buflen, "%d", c->max_message_bytes);
    else if (!strcmp(d->name, "message.timestamp.before.max.ms"))
        snprintf(buf, buflen, "%lld", (long long)c->ts_before_max_ms);
    else if (!strcmp(d->name, "message.timestamp.after.max.ms"))
        snprintf(buf, buflen, "%lld", (long long)c->ts_after_max_ms);
    else
        snprintf(buf, buflen, "%s", c->log_append_time ? "LogAppendTime" : "CreateTime");
    *value = buf;
    *from = d->broker_prop;
    if (!strcmp(d->name, "retention.ms") &&
        (sm_props_find(&b->cfg.all, "log.retention.hours") ||
         sm_props_find(&b->cfg.all, "log.retention.minutes")))
        source = 4;
    if (!strcmp(d->name, "segment.ms") && sm_props_find(&b->cfg.all, "log.roll.hours"))
        source = 4;
    return source;
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
        if (d->legacy)
            continue;
        const char *val, *from;
        int source = fallback(b, d, &t->cfg, buf, sizeof buf, &val, &from);
        fn(d->name, val, source, false, arg);
    }
}

int sm_topic_config_default(sm_broker *b, const char *name, char *buf, size_t buflen,
                            const char **value, const char **from)
{
    const tdef *d = find_tdef(name);
    if (!d)
        return -1;
    sm_props none;
    sm_props_init(&none);
    sm_topic_cfg c;
    effective_cfg(b, &none, &c);
    sm_props_release(&none);
    return fallback(b, d, &c, buf, buflen, value, from);
}

/* ---- files ---------------------------------------------------------------------- */

#define TOPICS_DIR "samsa-topics"
/* The longest name whose "<name>.properties.tmp" fits in a file name
 * (NAME_MAX 255); a longer one is split after SPLIT_AT characters. */
#define LONG_NAME 240
#define SPLIT_AT 200

static int parse_partition_dir(const char *name, char *topic, size_t tlen, int32_t *index);

static void topics_dir(sm_broker *b, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/" TOPICS_DIR, b->cfg.log_dirs[0]);
}

/* Creates samsa-topics (durably) if it is not there yet. */
static int make_topics_dir(sm_broker *b, char *msg, size_t msglen)
{
    char dir[4200];
    topics_dir(b, dir, sizeof dir);
    if (mkdir(dir, 0755) == 0) {
        if (sm_fsync_dir(b->cfg.log_dirs[0]) != 0)
            return sm_fail(msg, msglen, SM_EIO, "fsync of %s: %s", b->cfg.log_dirs[0],
                           strerror(errno));
    } else if (errno != EEXIST) {
        return sm_fail(msg, msglen, SM_EIO, "cannot create %s: %s", dir, strerror(errno));
    }
    return SM_OK;
}

/* A topic's config file: samsa-topics/<topic>.properties; a name over
 * LONG_NAME characters would not fit in one file name (with the .tmp of a
 * rewrite), so it is split: samsa-topics/<first SPLIT_AT>.d/<rest>.properties
 * (no topic's file ends in .d, so the two forms never meet). *sub gets the
 * .d directory, "" for a short name. */
static void config_path(sm_broker *b, const char *topic, char *out, size_t outlen, char *sub,
                        size_t sublen)
{
    char dir[4200];
    topics_dir(b, dir, sizeof dir);
    size_t n = strlen(topic);
    bool fits;
    if (sub)
        sub[0] = 0;
    if (n <= LONG_NAME) {
        int w = snprintf(out, outlen, "%s/%s.properties", dir, topic);
        fits = w >= 0 && (size_t)w < outlen;
    } else {
        int w = snprintf(out, outlen, "%s/%.*s.d/%s.properties", dir, SPLIT_AT, topic,
                         topic + SPLIT_AT);
        fits = w >= 0 && (size_t)w < outlen;
        if (sub) {
            w = snprintf(sub, sublen, "%s/%.*s.d", dir, SPLIT_AT, topic);
            fits = fits && w >= 0 && (size_t)w < sublen;
        }
    }
    if (!fits) {
        /* the log dir's path leaves no room for it: an empty path fails
         * every use with ENOENT instead of naming another file */
        sm_error("topic %s: the path of its config file under %s is too long", topic, dir);
        out[0] = 0;
        if (sub)
            sub[0] = 0;
    }
}

/* The key holding the topic id in the topic's config file; it is not a config. */
#define TOPIC_ID_KEY "samsa.topic.id"

static void id_hex(const uint8_t id[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
}

static bool id_parse(const char *s, uint8_t id[16])
{
    if (!s || strlen(s) != 32)
        return false;
    bool zero = true;
    for (int i = 0; i < 16; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdef", s[2 * i]) ||
            !strchr("0123456789abcdef", s[2 * i + 1]))
            return false;
        id[i] = (uint8_t)v;
        zero = zero && v == 0;
    }
    return !zero;
}

/* A new topic id, by the rules of Kafka's Uuid.randomUuid: a random
 * (version 4) UUID that is neither zero nor the metadata topic's id (1) and
 * whose URL-safe base64 form does not start with '-' (a first byte of
 * 0xf8-0xfb), which would read as a command-line option. */
static int new_topic_id(uint8_t id[16])
{
    for (int tries = 0; tries < 64; tries++) {
        if (getrandom(id, 16, 0) != 16)
            return SM_EIO;
        id[6] = (uint8_t)((id[6] & 0x0f) | 0x40);
        id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
        if ((id[0] >> 2) == 62)
            continue;
        return SM_OK; /* the version bits make it neither 0 nor 1 */
    }
    return SM_EIO;
}

static int write_topic_config(sm_broker *b, const char *name, const uint8_t id[16],
                              const sm_props *overrides, char *msg, size_t msglen)
{
    char dir[4200], sub[4400], path[4400], tmp[4500];
    topics_dir(b, dir, sizeof dir);
    int rc = make_topics_dir(b, msg, msglen);
    if (rc != SM_OK)
        return rc;
    config_path(b, name, path, sizeof path, sub, sizeof sub);
    if (sub[0]) {
        if (mkdir(sub, 0755) == 0) {
            if (sm_fsync_dir(dir) != 0)
                return sm_fail(msg, msglen, SM_EIO, "fsync of %s: %s", dir, strerror(errno));
        } else if (errno != EEXIST) {
            return sm_fail(msg, msglen, SM_EIO, "cannot create %s: %s", sub, strerror(errno));
        }
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return sm_fail(msg, msglen, SM_EIO, "cannot write %s: %s", tmp, strerror(errno));
    char hex[33];
    id_hex(id, hex);
    fprintf(f, "# topic-level configs of %s, written by samsa-broker\n", name);
    fprintf(f, TOPIC_ID_KEY "=%s\n", hex);
    for (size_t i = 0; i < overrides->n; i++)
        fprintf(f, "%s=%s\n", overrides->v[i].key, overrides->v[i].value);
    if (fflush(f) || fsync(fileno(f))) {
        int e = errno;
        fclose(f);
        unlink(tmp);
        return sm_fail(msg, msglen, SM_EIO, "cannot write %s: %s", tmp, strerror(e));
    }
    fclose(f);
    if (rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        return sm_fail(msg, msglen, SM_EIO, "cannot rename %s: %s", tmp, strerror(e));
    }
    if (sm_fsync_dir(sub[0] ? sub : dir) != 0)
        return sm_fail(msg, msglen, SM_EIO, "fsync of %s: %s", sub[0] ? sub : dir,
                       strerror(errno));
    return SM_OK;
}

/* Removes a topic's config file, durably (a .d directory left empty goes too). */
static int remove_topic_config(sm_broker *b, const char *name, char *msg, size_t msglen)
{
    char dir[4200], sub[4400], path[4400];
    topics_dir(b, dir, sizeof dir);
    config_path(b, name, path, sizeof path, sub, sizeof sub);
    if (unlink(path) != 0) {
        if (errno == ENOENT)
            return SM_OK;
        return sm_fail(msg, msglen, SM_EIO, "cannot remove %s: %s", path, strerror(errno));
    }
    if (sm_fsync_dir(sub[0] ? sub : dir) != 0)
        return sm_fail(msg, msglen, SM_EIO, "fsync of %s: %s", sub[0] ? sub : dir,
                       strerror(errno));
    if (sub[0] && rmdir(sub) == 0)
        sm_fsync_dir(dir);
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

/* 32 random hex digits (Kafka's unique ids in file names are UUIDs without dashes). */
static void random_hex(char out[33])
{
    uint8_t r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        static uint64_t seq;
        uint64_t v[2] = {(uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32), ++seq};
        memcpy(r, v, sizeof r);
    }
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
}

/* ---- deleting partition directories ----------------------------------------------- */

/* Partition directories being deleted: renamed aside, removed later. */
typedef struct aside_list {
    char **v;
    int n, cap;
} aside_list;

static void aside_release(aside_list *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

/* Renames the partition directory `dir` (<log dir>/<topic>-<partition>)
 * aside, under Kafka's name for a directory being deleted
 * (LocalLog.logDeleteDirName): "<topic>-<partition>.<32 hex digits>-delete",
 * the topic cut short so that the name fits in 255 bytes. A rename is
 * atomic: the partition is there whole or not at all. Missing: SM_OK. */
static int rename_aside(const char *dir, aside_list *out, char *msg, size_t msglen)
{
    const char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : dir;
    char topic[SM_TOPIC_NAME_MAX + 1], id[33], suffix[64], aside[4500];
    int32_t index;
    if (!parse_partition_dir(base, topic, sizeof topic, &index))
        return sm_fail(msg, msglen, SM_EINVAL, "%s: not a partition directory", dir);
    random_hex(id);
    int sl = snprintf(suffix, sizeof suffix, "-%d.%s-delete", (int)index, id);
    int keep = (int)strlen(topic) < 255 - sl ? (int)strlen(topic) : 255 - sl;
    snprintf(aside, sizeof aside, "%.*s%.*s%s", slash ? (int)(base - dir) : 0, dir, keep, topic,
             suffix);
    if (rename(dir, aside) != 0)
        return errno == ENOENT ? SM_OK
                               : sm_fail(msg, msglen, SM_EIO, "cannot rename %s to %s: %s", dir,
                                         aside, strerror(errno));
    if (out->n == out->cap) {
        int cap = out->cap ? out->cap * 2 : 8;
        char **v = realloc(out->v, (size_t)cap * sizeof *v);
        if (!v)
            return SM_OK; /* renamed: the next start removes it */
        out->v = v;
        out->cap = cap;
    }
    if ((out->v[out->n] = strdup(aside)))
        out->n++;
    return SM_OK;
}

/* fsyncs every log dir holding a renamed directory, once each: the
 * partitions cannot come back after that. */
static int sync_asides(sm_broker *b, const aside_list *a, char *msg, size_t msglen)
{
    for (int d = 0; d < b->cfg.n_log_dirs; d++) {
        const char *ld = b->cfg.log_dirs[d];
        size_t n = strlen(ld);
        bool used = false;
        for (int i = 0; i < a->n && !used; i++)
            used = !strncmp(a->v[i], ld, n) && a->v[i][n] == '/' && !strchr(a->v[i] + n + 1, '/');
        if (used && sm_fsync_dir(ld) != 0)
            return sm_fail(msg, msglen, SM_EIO, "fsync of %s: %s", ld, strerror(errno));
    }
    return SM_OK;
}

/* Removes what was renamed aside (a crash meanwhile leaves "-delete"
 * directories, removed at the next start). */
static void remove_asides(aside_list *a)
{
    for (int i = 0; i < a->n; i++)
        if (rm_rf(a->v[i]) != 0)
            sm_warn("cannot remove %s: %s (removed at the next start)", a->v[i], strerror(errno));
    aside_release(a);
}

/* Renames aside every partition directory of `topic` numbered `from` or
 * more, in every log dir (start-up: what an unfinished change left). */
static int aside_topic_dirs(sm_broker *b, const char *topic, int32_t from, aside_list *out,
                            char *msg, size_t msglen)
{
    for (int d = 0; d < b->cfg.n_log_dirs; d++) {
        DIR *dir = opendir(b->cfg.log_dirs[d]);
        if (!dir)
            continue;
        struct dirent *de;
        int rc = SM_OK;
        /* renaming while reading: collect first */
        aside_list found = {0};
        while ((de = readdir(dir))) {
            char t[SM_TOPIC_NAME_MAX + 1], full[4400];
            int32_t index;
            if (!parse_partition_dir(de->d_name, t, sizeof t, &index) || strcmp(t, topic) ||
                index < from)
                continue;
            snprintf(full, sizeof full, "%s/%s", b->cfg.log_dirs[d], de->d_name);
            struct stat st;
            if (stat(full, &st) != 0 || !S_ISDIR(st.st_mode))
                continue;
            if (found.n == found.cap) {
                int cap = found.cap ? found.cap * 2 : 8;
                char **v = realloc(found.v, (size_t)cap * sizeof *v);
                if (!v) {
                    rc = sm_fail(msg, msglen, SM_ENOMEM, "out of memory");
                    break;
                }
                found.v = v;
                found.cap = cap;
            }
            if (!(found.v[found.n] = strdup(full))) {
                rc = sm_fail(msg, msglen, SM_ENOMEM, "out of memory");
                break;
            }
            found.n++;
        }
        closedir(dir);
        for (int i = 0; i < found.n && rc == SM_OK; i++)
            rc = rename_aside(found.v[i], out, msg, msglen);
        aside_release(&found);
        if (rc != SM_OK)
            return rc;
    }
    return sync_asides(b, out, msg, msglen);
}

/* ---- topic change records ----------------------------------------------------------

 * A change of the topics on disk (create, delete, add partitions) touches
 * many directories, one at a time. To make it all or nothing across a
 * crash, it is recorded first: samsa-topics/<op>-<32 hex digits>.pending,
 * written to a .tmp file, fsynced, renamed, and the directory fsynced.
 * While the record exists the change may be half done; the record is
 * removed (durably) once the change is complete on disk. At start-up a
 * record left by a crash is finished before anything is loaded: a deletion
 * is carried out to the end; a creation (of a topic, or of partitions) is
 * undone, since it was never answered. The format, one field a line:
 *
 *   samsa topic change 1
 *   op=delete|create|partitions
 *   topic=<name>
 *   from=<first partition affected>
 *   to=<partition count after a creation; before a deletion>
 *   crc=<CRC-32C of the bytes before this line, 8 hex digits>
 */

#define CHANGE_MAGIC "samsa topic change 1\n"
#define CHANGE_EXT ".pending"

static int change_write(sm_broker *b, const char *op, const char *topic, int32_t from,
                        int32_t to, char *path, size_t pathlen, char *msg, size_t msglen)
{
    char dir[4200], tmp[4400], buf[600], id[33];
    int rc = make_topics_dir(b, msg, msglen);
    if (rc != SM_OK)
        return rc;
    topics_dir(b, dir, sizeof dir);
    random_hex(id);
    snprintf(path, pathlen, "%s/%s-%s" CHANGE_EXT, dir, op, id);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int n = snprintf(buf, sizeof buf, CHANGE_MAGIC "op=%s\ntopic=%s\nfrom=%d\nto=%d\n", op, topic,
                     (int)from, (int)to);
    n += snprintf(buf + n, sizeof buf - (size_t)n, "crc=%08x\n", sm_crc32c(0, buf, (size_t)n));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return sm_fail(msg, msglen, SM_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (write(fd, buf, (size_t)n) != n || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return sm_fail(msg, msglen, SM_EIO, "cannot write %s: %s", tmp, strerror(e));
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return sm_fail(msg, msglen, SM_EIO, "cannot rename %s: %s", tmp, strerror(e));
    }
    if (sm_fsync_dir(dir) != 0) {
        /* the record may not be durable: take it back, nothing was changed */
        int e = errno;
        unlink(path);
        return sm_fail(msg, msglen, SM_EIO, "fsync of %s: %s", dir, strerror(e));
    }
    return SM_OK;
}

/* The change is complete on disk: its record goes, durably. */
static int change_done(sm_broker *b, const char *path, char *msg, size_t msglen)
{
    char dir[4200];
    topics_dir(b, dir, sizeof dir);
    if (unlink(path) != 0)
        return sm_fail(msg, msglen, SM_EIO, "cannot remove %s: %s", path, strerror(errno));
    if (sm_fsync_dir(dir) != 0)
        return sm_fail(msg, msglen, SM_EIO, "fsync of %s: %s", dir, strerror(errno));
    return SM_OK;
}

/* A change whose record could not be cleared stays recorded, and is
 * finished at the next start; until then no other topic change is made
 * (it could be undone by that one). */
static void change_unfinished(sm_broker *b, const char *what, const char *why)
{
    b->topic_change_unfinished = true;
    sm_error("%s: %s; it is finished at the next start, and until then CreateTopics, "
             "DeleteTopics and CreatePartitions answer KAFKA_STORAGE_ERROR", what, why);
}

static bool change_blocked(sm_broker *b, char *msg, size_t msglen)
{
    if (!b->topic_change_unfinished)
        return false;
    sm_fail(msg, msglen, SM_EIO, "an earlier topic change could not be finished on disk: restart "
            "samsa-broker to finish it");
    return true;
}

typedef struct change {
    char op[16];
    char topic[SM_TOPIC_NAME_MAX + 1];
    int32_t from, to;
} change;

static bool field(const char **p, const char *end, const char *key, char *out, size_t outlen)
{
    size_t k = strlen(key);
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl || (size_t)(nl - *p) <= k || memcmp(*p, key, k) || (size_t)(nl - *p - (ptrdiff_t)k) >= outlen)
        return false;
    memcpy(out, *p + k, (size_t)(nl - *p) - k);
    out[(size_t)(nl - *p) - k] = 0;
    *p = nl + 1;
    return true;
}

static int change_read(const char *path, change *c, char *msg, size_t msglen)
{
    char buf[1024], v[300];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sm_fail(msg, msglen, SM_EIO, "%s: %s", path, strerror(errno));
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n < 0)
        return sm_fail(msg, msglen, SM_EIO, "%s: %s", path, strerror(errno));
    const char *p = buf, *end = buf + n;
    size_t ml = strlen(CHANGE_MAGIC);
    int64_t from, to;
    bool ok = (size_t)n > ml && !memcmp(buf, CHANGE_MAGIC, ml);
    p += ml;
    ok = ok && field(&p, end, "op=", c->op, sizeof c->op) &&
         field(&p, end, "topic=", c->topic, sizeof c->topic) &&
         sm_topic_name_valid(c->topic, (int32_t)strlen(c->topic)) &&
         field(&p, end, "from=", v, sizeof v) && sm_parse_i64(v, 0, MAX_PARTITIONS, &from) == SM_OK &&
         field(&p, end, "to=", v, sizeof v) && sm_parse_i64(v, 0, MAX_PARTITIONS, &to) == SM_OK;
    size_t body = (size_t)(p - buf);
    char crc[16];
    snprintf(crc, sizeof crc, "%08x", sm_crc32c(0, buf, body));
    ok = ok && field(&p, end, "crc=", v, sizeof v) && !strcmp(v, crc) && p == end &&
         (!strcmp(c->op, "delete") || !strcmp(c->op, "create") || !strcmp(c->op, "partitions"));
    if (!ok)
        return sm_fail(msg, msglen, SM_ECORRUPT, "%s: not a valid topic change record", path);
    c->from = (int32_t)from;
    c->to = (int32_t)to;
    return SM_OK;
}

/* Start-up: finishes the changes a crash interrupted (see above), and
 * removes the temporary files of writes cut short. */
static int changes_finish(sm_broker *b, char *err, size_t errlen)
{
    char dir[4200];
    topics_dir(b, dir, sizeof dir);
    DIR *d = opendir(dir);
    if (!d)
        return SM_OK;
    struct dirent *de;
    aside_list pending = {0};
    int rc = SM_OK;
    while ((de = readdir(d)) && rc == SM_OK) {
        char full[4500];
        size_t nl = strlen(de->d_name);
        snprintf(full, sizeof full, "%s/%s", dir, de->d_name);
        if (nl > 4 && !strcmp(de->d_name + nl - 4, ".tmp")) {
            sm_info("%s: removing the leftover of a write cut short", full);
            unlink(full);
        } else if (nl > 2 && !strcmp(de->d_name + nl - 2, ".d")) {
            DIR *sd = opendir(full);
            struct dirent *se;
            while (sd && (se = readdir(sd))) {
                size_t sl = strlen(se->d_name);
                char f[4800];
                snprintf(f, sizeof f, "%s/%s", full, se->d_name);
                if (sl > 4 && !strcmp(se->d_name + sl - 4, ".tmp")) {
                    sm_info("%s: removing the leftover of a write cut short", f);
                    unlink(f);
                }
            }
            if (sd)
                closedir(sd);
        } else if (nl > strlen(CHANGE_EXT) &&
                   !strcmp(de->d_name + nl - strlen(CHANGE_EXT), CHANGE_EXT)) {
            /* collected, finished after the listing */
            char **v = realloc(pending.v, (size_t)(pending.n + 1) * sizeof *v);
            if (v)
                pending.v = v;
            if (!v || !(pending.v[pending.n] = strdup(full))) {
                rc = sm_fail(err, errlen, SM_ENOMEM, "out of memory");
                break;
            }
            pending.n++;
        }
    }
    closedir(d);
    char why[600] = "";
    for (int i = 0; i < pending.n && rc == SM_OK; i++) {
        change c;
        aside_list asides = {0};
        if ((rc = change_read(pending.v[i], &c, why, sizeof why)) != SM_OK)
            break;
        bool del = !strcmp(c.op, "delete");
        if (del)
            sm_warn("topic %s: finishing its deletion, cut short by a crash (%s)", c.topic,
                    pending.v[i]);
        else
            sm_warn("topic %s: undoing the %s of partitions %d..%d, cut short by a crash before "
                    "it was answered (%s)", c.topic, c.from == 0 ? "creation" : "addition",
                    (int)c.from, (int)c.to - 1, pending.v[i]);
        rc = aside_topic_dirs(b, c.topic, del ? 0 : c.from, &asides, why, sizeof why);
        if (rc == SM_OK && (del || c.from == 0))
            rc = remove_topic_config(b, c.topic, why, sizeof why);
        if (rc == SM_OK && del) {
            /* cleared by sm_topics_finish_deletes, after the offsets go */
            char **v = realloc(b->deletes_pending,
                               (size_t)(b->ndeletes_pending + 1) * sizeof *v);
            if (!v || !(v[b->ndeletes_pending] = strdup(pending.v[i]))) {
                if (v)
                    b->deletes_pending = v;
                rc = sm_fail(why, sizeof why, SM_ENOMEM, "out of memory");
            } else {
                b->deletes_pending = v;
                b->ndeletes_pending++;
            }
        } else if (rc == SM_OK) {
            rc = change_done(b, pending.v[i], why, sizeof why);
        }
        remove_asides(&asides);
    }
    aside_release(&pending);
    if (rc != SM_OK)
        return sm_fail(err, errlen, rc, "cannot finish a topic change cut short by a crash: %s",
                       why);
    return SM_OK;
}

int sm_topics_finish_deletes(sm_broker *b, char *err, size_t errlen)
{
    int rc = SM_OK;
    char why[600] = "";
    for (int i = 0; i < b->ndeletes_pending; i++) {
        change c;
        if (rc == SM_OK && (rc = change_read(b->deletes_pending[i], &c, why, sizeof why)) == SM_OK &&
            (rc = sm_offsets_topic_deleted(b, c.topic, why, sizeof why)) == SM_OK)
            rc = change_done(b, b->deletes_pending[i], why, sizeof why);
        free(b->deletes_pending[i]);
    }
    free(b->deletes_pending);
    b->deletes_pending = NULL;
    b->ndeletes_pending = 0;
    if (rc != SM_OK)
        return sm_fail(err, errlen, rc, "cannot finish a topic deletion cut short by a crash: %s",
                       why);
    return SM_OK;
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
    sm_partition_init(p, t, index);
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

/* Closes partitions [from, to) of t (its data going away) and renames
 * their directories aside (durably); the asides are left to remove. */
static int drop_partitions(sm_broker *b, sm_topic *t, int32_t from, int32_t to, aside_list *asides,
                           char *msg, size_t msglen)
{
    int rc = SM_OK;
    for (int32_t i = from; i < to; i++) {
        if (!t->parts[i])
            continue;
        char dir[4400];
        snprintf(dir, sizeof dir, "%s", sm_plog_dir(t->parts[i]->log));
        partition_close(b, t->parts[i], true);
        t->parts[i] = NULL;
        int r = rename_aside(dir, asides, msg, msglen);
        if (r != SM_OK)
            rc = r;
    }
    if (rc == SM_OK)
        rc = sync_asides(b, asides, msg, msglen);
    return rc;
}

/* Opens partitions [from, to) of t, new and empty, and makes them durable
 * (each directory, its first segment and its name in the log dir). */
static int add_partitions(sm_broker *b, sm_topic *t, int32_t from, int32_t to, char *msg,
                          size_t msglen)
{
    for (int32_t i = from; i < to; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s-%d", pick_log_dir(b), t->name, i);
        sm_partition *p = partition_open(b, t, i, path, true, msg, msglen);
        if (!p) {
            aside_list a = {0};
            char m[256];
            if (rename_aside(path, &a, m, sizeof m) == SM_OK) /* a half-made directory */
                remove_asides(&a);
            return SM_EIO;
        }
        t->parts[i] = p;
        t->npart = i + 1;
    }
    for (int32_t i = from; i < to; i++)
        if (sm_plog_sync(t->parts[i]->log, msg, msglen) != SM_OK)
            return SM_EIO;
    return SM_OK;
}

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
sm_topic *sm_topic_find_id(sm_broker *b, const uint8_t id[16])
{
    const char *name;
    void *v;
    for (size_t it = 0; sm_map_next(&b->topics, &it, &name, &v);) {
        sm_topic *t = v;
        if (!memcmp(t->id, id, 16))
            return t;
    }
    return NULL;
}

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

    if (change_blocked(b, msg, msglen))
        return SM_KERR_KAFKA_STORAGE_ERROR;

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
    /* recorded first: a crash from here until the record is cleared undoes it all */
    char rec[4400];
    if (change_write(b, "create", t->name, 0, partitions, rec, sizeof rec, msg, msglen) != SM_OK) {
        sm_error("creating topic %s: %s", t->name, msg);
        topic_free(t);
        return SM_KERR_KAFKA_STORAGE_ERROR;
    }
    int rc = new_topic_id(t->id);
    if (rc != SM_OK)
        sm_fail(msg, msglen, rc, "cannot read random bytes for the topic id: %s", strerror(errno));
    bool in_map = false;
    /* always written: it holds the topic id */
    if (rc == SM_OK)
        rc = write_topic_config(b, t->name, t->id, &t->overrides, msg, msglen);
    /* in the map first, so that pick_log_dir counts this topic's new partitions */
    if (rc == SM_OK) {
        if (sm_map_put(&b->topics, t->name, strlen(t->name), t) == SM_OK)
            in_map = true;
        else
            rc = sm_fail(msg, msglen, SM_ENOMEM, "out of memory");
    }
    if (rc == SM_OK)
        rc = add_partitions(b, t, 0, partitions, msg, msglen);
    if (rc == SM_OK && (rc = change_done(b, rec, msg, msglen)) == SM_OK) {
        sm_info("created topic %s with %d partition(s)%s", t->name, partitions,
                t->overrides.n ? " and topic configs" : "");
        if (out)
            *out = t;
        return SM_KERR_NONE;
    }
    /* undone: none of it stays */
    sm_error("creating topic %s: %s; undoing it", t->name, msg);
    if (in_map)
        sm_map_del(&b->topics, t->name, strlen(t->name));
    char why[512];
    aside_list asides = {0};
    int urc = drop_partitions(b, t, 0, t->npart, &asides, why, sizeof why);
    if (urc == SM_OK)
        urc = remove_topic_config(b, t->name, why, sizeof why);
    if (urc == SM_OK)
        urc = change_done(b, rec, why, sizeof why);
    if (urc != SM_OK)
        change_unfinished(b, "undoing a topic creation", why);
    remove_asides(&asides);
    topic_free(t);
    return rc == SM_ENOMEM ? SM_KERR_UNKNOWN_SERVER_ERROR : SM_KERR_KAFKA_STORAGE_ERROR;
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

/* Deleting a topic: recorded first, so that a crash at any later moment
 * finishes it at the next start; then every partition directory is
 * renamed aside (Kafka's "-delete" names) and the renames made durable,
 * the config file removed, the record cleared, and the renamed
 * directories removed last. */
int16_t sm_topic_delete(sm_broker *b, sm_topic *t)
{
    char rec[4400], msg[512];
    if (change_blocked(b, msg, sizeof msg) ||
        change_write(b, "delete", t->name, 0, t->npart, rec, sizeof rec, msg, sizeof msg) != SM_OK) {
        sm_error("deleting topic %s: %s", t->name, msg);
        return SM_KERR_KAFKA_STORAGE_ERROR;
    }
    sm_map_del(&b->topics, t->name, strlen(t->name));
    aside_list asides = {0};
    /* the groups' committed offsets of it go with it, as in Kafka, durably
     * before the record is cleared (a crash before that: the start-up that
     * finishes the deletion drops them, sm_topics_finish_deletes) */
    int rc = sm_offsets_topic_deleted(b, t->name, msg, sizeof msg);
    if (rc == SM_OK)
        rc = drop_partitions(b, t, 0, t->npart, &asides, msg, sizeof msg);
    if (rc == SM_OK)
        rc = remove_topic_config(b, t->name, msg, sizeof msg);
    if (rc == SM_OK)
        rc = change_done(b, rec, msg, sizeof msg);
    if (rc != SM_OK) {
        char what[300];
        snprintf(what, sizeof what, "deleting topic %s", t->name);
        change_unfinished(b, what, msg);
    }
    remove_asides(&asides);
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
    if (change_blocked(b, msg, msglen))
        return SM_KERR_KAFKA_STORAGE_ERROR;
    sm_partition **np = realloc(t->parts, (size_t)total * sizeof *np);
    if (!np) {
        sm_fail(msg, msglen, SM_ENOMEM, "out of memory");
        return SM_KERR_UNKNOWN_SERVER_ERROR;
    }
    t->parts = np;
    int32_t old = t->npart;
    for (int32_t i = old; i < total; i++)
        t->parts[i] = NULL;
    char rec[4400];
    if (change_write(b, "partitions", t->name, old, total, rec, sizeof rec, msg, msglen) != SM_OK) {
        sm_error("adding partitions to topic %s: %s", t->name, msg);
        return SM_KERR_KAFKA_STORAGE_ERROR;
    }
    if (add_partitions(b, t, old, total, msg, msglen) == SM_OK &&
        change_done(b, rec, msg, msglen) == SM_OK) {
        sm_info("topic %s: partitions %d -> %d", t->name, old, total);
        return SM_KERR_NONE;
    }
    /* undo: the topic keeps the partitions it had */
    sm_error("adding partitions to topic %s: %s", t->name, msg);
    char why[512];
    aside_list asides = {0};
    int urc = drop_partitions(b, t, old, t->npart, &asides, why, sizeof why);
    t->npart = old;
    if (urc == SM_OK)
        urc = change_done(b, rec, why, sizeof why);
    if (urc != SM_OK)
        change_unfinished(b, "undoing an addition of partitions", why);
    remove_asides(&asides);
    return SM_KERR_KAFKA_STORAGE_ERROR;
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
    if (write_topic_config(b, t->name, t->id, &next, msg, msglen) != SM_OK) {
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
    int rc = changes_finish(b, err, errlen);
    if (rc != SM_OK)
        return rc;
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
        config_path(b, t->name, path, sizeof path, NULL, 0);
        sm_props file;
        sm_props_init(&file);
        bool unreadable = false;
        if (access(path, F_OK) == 0 && sm_props_load_file(&file, path, err, errlen) != SM_OK) {
            sm_warn("topic %s: ignoring unreadable configs: %s", t->name, err);
            sm_props_release(&file);
            sm_props_init(&file);
            unreadable = true;
        }
        bool has_id = id_parse(sm_props_get(&file, TOPIC_ID_KEY), t->id);
        for (size_t k = 0; k < file.n && rc == SM_OK; k++)
            if (strcmp(file.v[k].key, TOPIC_ID_KEY) != 0)
                rc = sm_props_set(&t->overrides, file.v[k].key, file.v[k].value, "topic");
        sm_props_release(&file);
        if (rc == SM_OK && !has_id) {
            /* a topic from before topic ids: it gets one now, durably */
            rc = new_topic_id(t->id);
            if (rc == SM_OK && unreadable)
                sm_warn("topic %s: its id lasts until a restart (the config file, kept as it "
                        "is, does not read)", t->name);
            else if (rc == SM_OK)
                rc = write_topic_config(b, t->name, t->id, &t->overrides, err, errlen);
            else
                sm_fail(err, errlen, rc, "cannot read random bytes for a topic id");
            if (rc == SM_OK && !unreadable)
                sm_info("topic %s: assigned a topic id", t->name);
        }
        if (rc != SM_OK) {
            topic_free(t);
            break;
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
        /* a gap (a partition directory lost from the log dirs: a crash while
         * partitions were being added is undone before this) gets an empty one */
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
