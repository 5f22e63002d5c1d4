/* config.c: the relay's property table and its special setters (the
 * engine that reads, checks and parses is base/config.c).
 *
 * Loading: the file, then the overrides, into one property set (a later
 * setting wins). Each key is either a relay property (the table below) or
 * goes to librdkafka; librdkafka is asked at load time, on a scratch
 * configuration, so that a typo fails at start with the property's name
 * instead of when the producer is created. Properties the relay needs set a
 * certain way (acks=all, idempotence) are refused when set otherwise. */
#include "relay/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/config.h"
#include "base/err.h"
#include "base/log.h"
#include "relay/record.h"

/* the table's types, short (base/config.h) */
#define P_STR SM_CONFIG_STR
#define P_INT SM_CONFIG_INT
#define P_LONG SM_CONFIG_LONG
#define P_BOOL SM_CONFIG_BOOL
#define P_SPECIAL SM_CONFIG_SPECIAL

#define OFF(f) offsetof(sm_relay_config, f)
#define DAY_MS (24LL * 3600 * 1000)

static const sm_config_def defs[] = {
    {"outbox.db", P_STR, NULL, 0, 0, OFF(outbox_db),
     "the outbox database: sqlite:PATH or a postgresql:// URL (required)"},
    {"bootstrap.servers", P_STR, NULL, 0, 0, OFF(bootstrap_servers),
     "the Kafka brokers, host:port[,host:port...] (required)"},
    {"relay.id", P_SPECIAL, NULL, 0, 0, 0,
     "this relay's name among several on one PostgreSQL [default: hostname-pid]"},
    {"batch.size", P_INT, "1000", 1, 100000, OFF(batch_size),
     "rows per claim (librdkafka's batch.size: set producer.batch.size)"},
    {"max.inflight", P_INT, "20000", 1, 10000000, OFF(max_inflight),
     "rows claimed and not yet marked, at most (backpressure)"},
    {"poll.interval.ms", P_LONG, "50", 1, 3600000, OFF(poll_interval_ms),
     "SQLite: how often to look for new rows (PostgreSQL wakes on NOTIFY)"},
    {"max.attempts", P_INT, "10", 1, 1000000, OFF(max_attempts),
     "failed publish attempts before a row goes DEAD and to the dead-letter topic"},
    {"retry.backoff.ms", P_LONG, "500", 1, 86400000, OFF(retry_backoff_ms),
     "backoff before the first retry; doubles per attempt, with full jitter"},
    {"retry.backoff.max.ms", P_LONG, "60000", 1, 86400000, OFF(retry_backoff_max_ms),
     "the longest backoff between attempts"},
    {"unknown.topic.dead.ms", P_LONG, "60000", 0, 86400000, OFF(unknown_topic_dead_ms),
     "a row whose topic the broker does not know goes DEAD at its first failure once the "
     "relay has tried that topic for this long without success"},
    {"dead.letter.topic", P_SPECIAL, "${topic}.DLT", 0, 0, 0,
     "where DEAD rows are published; ${topic} is the row's topic"},
    {"on.dead", P_SPECIAL, "continue", 0, 0, 0,
     "continue: later rows of a DEAD row's key proceed; block: they wait until it is "
     "re-queued"},
    {"track.groups", P_SPECIAL, NULL, 0, 0, 0,
     "comma-separated consumer groups, each group (every topic) or group:topic (rows of that "
     "topic only); a row is COMPLETE once every group tracking its topic has committed past "
     "it (at once if none tracks it)"},
    {"complete.interval.ms", P_LONG, "1000", 10, 86400000, OFF(complete_interval_ms),
     "how often the committed offsets of track.groups are read"},
    {"on.topic.recreated", P_SPECIAL, "republish", 0, 0, 0,
     "PUBLISHED rows of a tracked topic that was deleted and created again before they were "
     "consumed: republish (published again, to the new topic) or keep (stay PUBLISHED, "
     "never COMPLETE)"},
    {"republish.stale.after.ms", P_LONG, "0", 0, INT64_MAX / 2, OFF(republish_stale_after_ms),
     "re-publish PUBLISHED rows not COMPLETE after this long (duplicates!); 0: off"},
    {"cleanup.after.ms", P_LONG, "604800000", 0, INT64_MAX / 2, OFF(cleanup_after_ms),
     "delete (or archive) COMPLETE rows this old; 0: off"},
    {"cleanup.interval.ms", P_LONG, "60000", 100, 86400000, OFF(cleanup_interval_ms),
     "how often cleanup runs"},
    {"cleanup.include.published", P_BOOL, "false", 0, 0, OFF(cleanup_include_published),
     "cleanup also removes PUBLISHED rows (when nothing marks rows COMPLETE)"},
    {"cleanup.archive", P_BOOL, "false", 0, 0, OFF(cleanup_archive),
     "move cleaned rows to samsa_outbox_archive instead of deleting them"},
    {"balance.interval.ms", P_LONG, "3000", 100, 600000, OFF(balance_interval_ms),
     "PostgreSQL: how often slots are re-balanced among the live relays"},
    {"claim.cursor", P_BOOL, "true", 0, 0, OFF(claim_cursor),
     "claims start from a cursor instead of the lowest INIT row (false: the plain claim, for "
     "comparison)"},
    {"slot.lease.ms", P_LONG, "30000", 0, 86400000, OFF(slot_lease_ms),
     "PostgreSQL: a relay holding slots whose heartbeat is older is taken to be hung: the "
     "others end its database session and take its slots; 0: off"},
    {"stats.interval.ms", P_LONG, "5000", 100, 3600000, OFF(stats_interval_ms),
     "how often row counts are read for the metrics"},
    {"shutdown.timeout.ms", P_LONG, "10000", 0, 3600000, OFF(shutdown_timeout_ms),
     "on SIGTERM, wait this long for in-flight deliveries"},
    {"metrics.listen", P_SPECIAL, "127.0.0.1:9464", 0, 0, 0,
     "address:port of the HTTP metrics endpoint (port 0: any free port)"},
    {"log.level", P_SPECIAL, "info", 0, 0, 0, "debug, info, warn or error"},
};
#define NDEFS (sizeof defs / sizeof defs[0])

/* librdkafka properties the relay sets unless the user does. */
static const struct {
    const char *name, *alias, *value, *why;
} kafka_defaults[] = {
    {"linger.ms", "queue.buffering.max.ms", "1", "a short linger keeps commit-to-ack latency low"},
    {"message.timeout.ms", "delivery.timeout.ms", "0",
     "0: librdkafka retries until the broker takes the row, so a broker outage costs no "
     "attempts and never reorders a key"},
    {"log.connection.close", NULL, "false", "idle disconnects are not news"},
    {"reconnect.backoff.max.ms", NULL, "1000",
     "a broker that comes back is found within a second"},
};

/* librdkafka properties the relay needs set one way. */
static const struct {
    const char *name;
    const char *ok[3];
} kafka_forced[] = {
    {"enable.idempotence", {"true", NULL}},
    {"acks", {"all", "-1", NULL}},
    {"request.required.acks", {"all", "-1", NULL}},
};

static const struct {
    const char *name, *why;
} kafka_refused[] = {
    {"transactional.id", "the relay does not use Kafka transactions; its idempotent producer "
                         "already writes each row once per attempt"},
    {"enable.gapless.guarantee", "the relay sets it per producer (on for first attempts, off "
                                 "for the one-message retry producer)"},
};

static int check_kafka(const sm_prop *p, const char *name, rd_kafka_conf_t *scratch, char *err,
                       size_t errlen)
{
    for (size_t i = 0; i < sizeof kafka_refused / sizeof kafka_refused[0]; i++)
        if (!strcmp(name, kafka_refused[i].name))
            return sm_fail(err, errlen, SM_EINVAL, "%s (%s): %s", p->key, p->origin,
                           kafka_refused[i].why);
    for (size_t i = 0; i < sizeof kafka_forced / sizeof kafka_forced[0]; i++) {
        if (strcmp(name, kafka_forced[i].name))
            continue;
        bool ok = false;
        for (int j = 0; kafka_forced[i].ok[j]; j++)
            ok |= !strcasecmp(p->value, kafka_forced[i].ok[j]);
        if (!ok)
            return sm_fail(err, errlen, SM_EINVAL,
                           "%s (%s): '%s': the relay requires %s=%s (no row may be lost, "
                           "duplicated by a retry, or reordered)",
                           p->key, p->origin, p->value, name, kafka_forced[i].ok[0]);
    }
    char why[512];
    rd_kafka_conf_res_t r = rd_kafka_conf_set(scratch, name, p->value, why, sizeof why);
    if (r == RD_KAFKA_CONF_UNKNOWN)
        return sm_fail(err, errlen, SM_EINVAL,
                       "unknown property '%s' (%s): neither a samsa-relay property nor a "
                       "librdkafka producer property; see samsa-relay --help",
                       p->key, p->origin);
    if (r != RD_KAFKA_CONF_OK)
        return sm_fail(err, errlen, SM_EINVAL, "%s (%s): '%s' rejected by librdkafka: %s",
                       p->key, p->origin, p->value, why);
    return SM_OK;
}

/* track.groups: "group" (every topic) or "group:topic" (that topic only);
 * the text after the last ':' is the topic ("*": every topic, for a group
 * id that itself contains ':'). Topic names cannot contain ':'. */
static int add_group(sm_relay_config *cfg, char *tok, const sm_prop *p, char *err, size_t errlen)
{
    char *colon = strrchr(tok, ':');
    const char *topic = NULL;
    if (colon) {
        *colon = 0;
        topic = colon + 1;
        char why[256];
        if (!strcmp(topic, "*"))
            topic = NULL;
        else if (!sm_relay_topic_valid(topic, why, sizeof why))
            return sm_fail(err, errlen, SM_EINVAL, "track.groups (%s): '%s:%s': %s (write "
                           "group:topic, or group:* for every topic)", p->origin, tok, topic,
                           why);
    }
    if (!*tok)
        return sm_fail(err, errlen, SM_EINVAL, "track.groups (%s): an empty group id",
                       p->origin);
    for (int i = 0; i < cfg->n_track_groups; i++)
        if (!strcmp(cfg->track_groups[i], tok) &&
            (topic ? cfg->track_topics[i] && !strcmp(cfg->track_topics[i], topic)
                   : !cfg->track_topics[i]))
            return SM_OK;
    size_t n = (size_t)cfg->n_track_groups + 1;
    char **g = realloc(cfg->track_groups, n * sizeof *g);
    if (!g)
        return SM_ENOMEM;
    cfg->track_groups = g;
    char **t = realloc(cfg->track_topics, n * sizeof *t);
    if (!t)
        return SM_ENOMEM;
    cfg->track_topics = t;
    g[n - 1] = strdup(tok);
    t[n - 1] = topic ? strdup(topic) : NULL;
    if (!g[n - 1] || (topic && !t[n - 1])) {
        free(g[n - 1]);
        free(t[n - 1]);
        return SM_ENOMEM;
    }
    cfg->n_track_groups++;
    return SM_OK;
}

static int set_groups(sm_relay_config *cfg, const sm_prop *p, char *err, size_t errlen)
{
    char *copy = strdup(p->value), *save = NULL;
    if (!copy)
        return SM_ENOMEM;
    int rc = SM_OK;
    for (char *tok = strtok_r(copy, ",", &save); tok && rc == SM_OK;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        size_t n = strlen(tok);
        while (n && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
            tok[--n] = 0;
        if (n)
            rc = add_group(cfg, tok, p, err, errlen);
    }
    free(copy);
    return rc;
}

static int set_listen(sm_relay_config *cfg, const char *v, const char *origin, char *err,
                      size_t errlen)
{
    const char *colon = strrchr(v, ':');
    if (!colon)
        return sm_fail(err, errlen, SM_EINVAL, "metrics.listen (%s): '%s' is not address:port",
                       origin, v);
    size_t hl = (size_t)(colon - v);
    char host[64];
    if (hl >= sizeof host)
        return sm_fail(err, errlen, SM_EINVAL, "metrics.listen (%s): '%s': address too long",
                       origin, v);
    memcpy(host, v, hl);
    host[hl] = 0;
    if (!hl)
        strcpy(host, "0.0.0.0");
    else if (!strcmp(host, "localhost"))
        strcpy(host, "127.0.0.1");
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) != 1)
        return sm_fail(err, errlen, SM_EINVAL,
                       "metrics.listen (%s): '%s' is not a numeric IPv4 address", origin, host);
    int64_t port;
    if (sm_parse_i64(colon + 1, 0, 65535, &port) != SM_OK)
        return sm_fail(err, errlen, SM_EINVAL, "metrics.listen (%s): port must be 0..65535",
                       origin);
    snprintf(cfg->metrics_host, sizeof cfg->metrics_host, "%s", host);
    cfg->metrics_port = (int)port;
    return SM_OK;
}

static int set_dlt(sm_relay_config *cfg, const char *v, const char *origin, char *err,
                   size_t errlen)
{
    /* A topic name of legal characters must stay legal after substitution:
     * check the template with a one-character topic. */
    free(cfg->dead_letter_topic);
    if (!(cfg->dead_letter_topic = strdup(v)))
        return SM_ENOMEM;
    char *probe = sm_relay_dlt_name(cfg, "t");
    if (!probe)
        return SM_ENOMEM;
    char why[256];
    bool ok = sm_relay_topic_valid(probe, why, sizeof why);
    free(probe);
    if (!ok)
        return sm_fail(err, errlen, SM_EINVAL, "dead.letter.topic (%s): '%s': %s", origin, v,
                       why);
    return SM_OK;
}

/* The SPECIAL entries of the table, in its order (sm_config_apply); p is the
 * property as set, NULL when it is not. */
static int set_special(void *obj, const sm_config_def *d, const sm_prop *p, char *err,
                       size_t errlen)
{
    sm_relay_config *cfg = obj;
    const char *val = p ? p->value : d->def;
    const char *origin = p ? p->origin : "default";
    if (!strcmp(d->name, "relay.id")) {
        char buf[300];
        if (!val) {
            char host[256];
            if (gethostname(host, sizeof host) != 0)
                strcpy(host, "relay");
            host[sizeof host - 1] = 0;
            snprintf(buf, sizeof buf, "%s-%d", host, (int)getpid());
            val = buf;
        }
        size_t n = strlen(val);
        if (n == 0 || n > 200)
            return sm_fail(err, errlen, SM_EINVAL, "relay.id (%s): must be 1..200 characters",
                           origin);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)val[i] <= ' ' || (unsigned char)val[i] >= 0x7f)
                return sm_fail(err, errlen, SM_EINVAL,
                               "relay.id (%s): '%s': printable ASCII without spaces only",
                               origin, val);
        return (cfg->relay_id = strdup(val)) ? SM_OK : SM_ENOMEM;
    }
    if (!strcmp(d->name, "dead.letter.topic"))
        return set_dlt(cfg, val, origin, err, errlen);
    if (!strcmp(d->name, "on.dead")) {
        if (!strcasecmp(val, "continue"))
            cfg->on_dead = SM_ON_DEAD_CONTINUE;
        else if (!strcasecmp(val, "block"))
            cfg->on_dead = SM_ON_DEAD_BLOCK;
        else
            return sm_fail(err, errlen, SM_EINVAL, "on.dead (%s): '%s' is not continue or block",
                           origin, val);
        return SM_OK;
    }
    if (!strcmp(d->name, "on.topic.recreated")) {
        if (!strcasecmp(val, "republish"))
            cfg->on_topic_recreated = SM_ON_RECREATED_REPUBLISH;
        else if (!strcasecmp(val, "keep"))
            cfg->on_topic_recreated = SM_ON_RECREATED_KEEP;
        else
            return sm_fail(err, errlen, SM_EINVAL,
                           "on.topic.recreated (%s): '%s' is not republish or keep", origin, val);
        return SM_OK;
    }
    if (!strcmp(d->name, "track.groups"))
        return p ? set_groups(cfg, p, err, errlen) : SM_OK;
    if (!strcmp(d->name, "metrics.listen"))
        return set_listen(cfg, val, origin, err, errlen);
    if (!strcmp(d->name, "log.level")) {
        int lvl = sm_log_parse_level(val);
        if (lvl < 0)
            return sm_fail(err, errlen, SM_EINVAL,
                           "log.level (%s): '%s' is not debug, info, warn or error", origin, val);
        cfg->log_level = lvl;
        return SM_OK;
    }
    return SM_OK;
}

int sm_relay_config_load(sm_relay_config *cfg, const char *file, char **overrides,
                         int n_overrides, bool need_kafka, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    sm_props_init(&cfg->all);
    sm_props_init(&cfg->kafka);
    int rc;
    if ((rc = sm_config_read(&cfg->all, file, overrides, n_overrides, err, errlen)) != SM_OK)
        return rc;

    /* relay properties */
    if ((rc = sm_config_apply(cfg, defs, NDEFS, &cfg->all, set_special, err, errlen)) != SM_OK)
        return rc;

    /* everything else goes to librdkafka, checked now */
    rd_kafka_conf_t *scratch = rd_kafka_conf_new();
    if (!scratch)
        return SM_ENOMEM;
    rc = SM_OK;
    for (size_t i = 0; i < cfg->all.n && rc == SM_OK; i++) {
        const sm_prop *p = &cfg->all.v[i];
        if (sm_config_find(defs, NDEFS, p->key))
            continue;
        const char *name = p->key;
        if (!strncmp(name, "producer.", 9) && name[9])
            name += 9;
        rc = check_kafka(p, name, scratch, err, errlen);
        if (rc == SM_OK)
            rc = sm_props_set(&cfg->kafka, name, p->value, p->origin);
    }
    rd_kafka_conf_destroy(scratch);
    if (rc != SM_OK)
        return rc;
    for (size_t i = 0; i < sizeof kafka_defaults / sizeof kafka_defaults[0]; i++)
        if (!sm_props_find(&cfg->kafka, kafka_defaults[i].name) &&
            !(kafka_defaults[i].alias && sm_props_find(&cfg->kafka, kafka_defaults[i].alias)) &&
            (rc = sm_props_set(&cfg->kafka, kafka_defaults[i].name, kafka_defaults[i].value,
                               "samsa-relay default")) != SM_OK)
            return rc;

    if (!cfg->outbox_db)
        return sm_fail(err, errlen, SM_EINVAL,
                       "outbox.db is required (sqlite:PATH or postgresql://...)");
    if (strncmp(cfg->outbox_db, "sqlite:", 7) && strncmp(cfg->outbox_db, "postgresql://", 13) &&
        strncmp(cfg->outbox_db, "postgres://", 11)) {
        const sm_prop *p = sm_props_find(&cfg->all, "outbox.db");
        return sm_fail(err, errlen, SM_EINVAL,
                       "outbox.db (%s): '%s' is neither sqlite:PATH nor a postgresql:// URL",
                       p ? p->origin : "?", cfg->outbox_db);
    }
    if (!strcmp(cfg->outbox_db, "sqlite:"))
        return sm_fail(err, errlen, SM_EINVAL, "outbox.db: sqlite: needs a path");
    if (need_kafka && !cfg->bootstrap_servers)
        return sm_fail(err, errlen, SM_EINVAL,
                       "bootstrap.servers is required (host:port of a Kafka broker)");
    if (cfg->slot_lease_ms > 0 && cfg->slot_lease_ms < 2 * cfg->balance_interval_ms)
        return sm_fail(err, errlen, SM_EINVAL,
                       "slot.lease.ms (%lld) must be at least twice balance.interval.ms (%lld):"
                       " a live relay renews its lease once per balance",
                       (long long)cfg->slot_lease_ms, (long long)cfg->balance_interval_ms);
    if (cfg->retry_backoff_max_ms < cfg->retry_backoff_ms)
        return sm_fail(err, errlen, SM_EINVAL,
                       "retry.backoff.max.ms (%lld) is below retry.backoff.ms (%lld)",
                       (long long)cfg->retry_backoff_max_ms, (long long)cfg->retry_backoff_ms);
    return SM_OK;
}

void sm_relay_config_release(sm_relay_config *cfg)
{
    free(cfg->outbox_db);
    free(cfg->bootstrap_servers);
    free(cfg->relay_id);
    free(cfg->dead_letter_topic);
    for (int i = 0; i < cfg->n_track_groups; i++) {
        free(cfg->track_groups[i]);
        free(cfg->track_topics[i]);
    }
    free(cfg->track_groups);
    free(cfg->track_topics);
    sm_props_release(&cfg->kafka);
    sm_props_release(&cfg->all);
    memset(cfg, 0, sizeof *cfg);
}

char *sm_relay_dlt_name(const sm_relay_config *cfg, const char *topic)
{
    static const char var[] = "${topic}";
    const char *t = cfg->dead_letter_topic ? cfg->dead_letter_topic : "${topic}.DLT";
    size_t tl = strlen(topic), n = 0;
    for (const char *p = t; *p;) {
        if (!strncmp(p, var, sizeof var - 1)) {
            n += tl;
            p += sizeof var - 1;
        } else {
            n++;
            p++;
        }
    }
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = t; *p;) {
        if (!strncmp(p, var, sizeof var - 1)) {
            memcpy(o, topic, tl);
            o += tl;
            p += sizeof var - 1;
        } else {
            *o++ = *p++;
        }
    }
    *o = 0;
    return out;
}

void sm_relay_redact_url(const char *url, char *out, size_t outlen)
{
    /* scheme://user:password@host... -> scheme://user:***@host... */
    const char *s = strstr(url, "://");
    const char *at = s ? strchr(s + 3, '@') : NULL;
    const char *colon = s ? strchr(s + 3, ':') : NULL;
    if (!at || !colon || colon > at) {
        snprintf(out, outlen, "%s", url);
        return;
    }
    snprintf(out, outlen, "%.*s:***%s", (int)(colon - url), url, at);
}

void sm_relay_config_print_help(void)
{
    printf("Properties (set in the file or with --override KEY=VALUE):\n");
    sm_config_print_table(defs, NDEFS, 28);
    printf("\nAny other property is a librdkafka producer property and is passed to it\n"
           "(e.g. linger.ms, compression.type, security.protocol, sasl.*); prefix it with\n"
           "\"producer.\" when the relay uses the name itself (producer.batch.size).\n"
           "The relay sets, unless you do:\n");
    for (size_t i = 0; i < sizeof kafka_defaults / sizeof kafka_defaults[0]; i++)
        printf("  %s=%s: %s\n", kafka_defaults[i].name, kafka_defaults[i].value,
               kafka_defaults[i].why);
    printf("Always: enable.idempotence=true, acks=all (setting them otherwise is an error);\n"
           "enable.gapless.guarantee=true on the main producer, and the retry producer sends\n"
           "one message per batch (batch.num.messages=1, linger.ms=0).\n");
}

rd_kafka_conf_t *sm_relay_kafka_conf(const sm_relay_config *cfg, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char why[512];
    for (size_t i = 0; i < cfg->kafka.n; i++) {
        const sm_prop *p = &cfg->kafka.v[i];
        if (rd_kafka_conf_set(conf, p->key, p->value, why, sizeof why) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            sm_fail(err, errlen, SM_EINVAL, "%s (%s): %s", p->key, p->origin, why);
            return NULL;
        }
    }
    return conf;
}
