/* config.c: the broker's property table and its special setters (the engine
 * that reads, checks and parses is base/config.c).
 *
 * Loading is two passes: every key set in the file or on the command line
 * must be in the table (or be a known Kafka property with no effect here),
 * then each value is parsed and bounds-checked. Time properties that Kafka
 * offers in several units (log.retention.ms/minutes/hours, log.roll.ms/hours)
 * follow Kafka's precedence: the finest unit set wins. */
#include "broker/config.h"

#include <errno.h>
#include <arpa/inet.h>
#include <limits.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/log.h"

/* the table's types, short (base/config.h) */
#define P_INT SM_CONFIG_INT
#define P_LONG SM_CONFIG_LONG
#define P_BOOL SM_CONFIG_BOOL
#define P_SPECIAL SM_CONFIG_SPECIAL
#define P_NOOP SM_CONFIG_NOOP

#define OFF(f) offsetof(sm_broker_config, f)
#define DAY_MS (24LL * 3600 * 1000)

static const sm_config_def defs[] = {
    {"node.id", P_INT, "0", 0, INT32_MAX, OFF(node_id), "this broker's id, reported in metadata"},
    {"broker.id", P_INT, NULL, 0, INT32_MAX, OFF(node_id), "older name of node.id"},
    {"listeners", P_SPECIAL, "PLAINTEXT://127.0.0.1:9092", 0, 0, 0,
     "where to accept connections: NAME://host:port (port 0: any free port)"},
    {"listener.security.protocol.map", P_SPECIAL,
     "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL", 0, 0, 0,
     "NAME:PROTOCOL pairs; every listener must map to PLAINTEXT (no TLS or SASL yet)"},
    {"security.inter.broker.protocol", P_SPECIAL, "PLAINTEXT", 0, 0, 0,
     "only PLAINTEXT (no effect on a single node)"},
    {"advertised.listeners", P_SPECIAL, NULL, 0, 0, 0,
     "the address given to clients in metadata (default: the bound listener)"},
    {"log.dirs", P_SPECIAL, NULL, 0, 0, 0, "comma-separated data directories"},
    {"log.dir", P_SPECIAL, "/tmp/samsa-logs", 0, 0, 0, "data directory, when log.dirs is unset"},
    {"num.partitions", P_INT, "1", 1, 100000, OFF(num_partitions),
     "partitions of an auto-created topic, and of CreateTopics asking for -1"},
    {"default.replication.factor", P_SPECIAL, "1", 0, 0, 0, "must be 1: a single node"},
    {"auto.create.topics.enable", P_BOOL, "true", 0, 0, OFF(auto_create_topics),
     "create a topic on first Metadata or Produce naming it"},
    {"samsa.auto.create.max.partitions.per.request", P_INT, "100", 1, INT32_MAX,
     OFF(auto_create_max_partitions),
     "partitions one Metadata or Produce request may auto-create; other new topics in it are "
     "answered UNKNOWN_TOPIC_OR_PARTITION (the client's retry creates them)"},
    {"delete.topic.enable", P_BOOL, "true", 0, 0, OFF(delete_topic_enable),
     "allow DeleteTopics"},
    {"log.segment.bytes", P_LONG, "1073741824", 14, INT32_MAX, OFF(log.segment_bytes),
     "roll a segment before it passes this size"},
    {"log.roll.ms", P_SPECIAL, NULL, 0, 0, 0, "roll a segment this old (default 168 hours)"},
    {"log.roll.hours", P_SPECIAL, "168", 0, 0, 0, "log.roll.ms in hours"},
    {"log.retention.ms", P_SPECIAL, NULL, 0, 0, 0,
     "delete segments older than this; -1 keeps forever (default 168 hours)"},
    {"log.retention.minutes", P_SPECIAL, NULL, 0, 0, 0, "log.retention.ms in minutes"},
    {"log.retention.hours", P_SPECIAL, "168", 0, 0, 0, "log.retention.ms in hours"},
    {"log.retention.bytes", P_LONG, "-1", -1, INT64_MAX, OFF(log.retention_bytes),
     "delete oldest segments while a partition is larger; -1 no limit"},
    {"log.retention.check.interval.ms", P_LONG, "300000", 1, INT64_MAX,
     OFF(retention_check_interval_ms), "how often retention runs"},
    {"log.index.interval.bytes", P_INT, "4096", 0, INT32_MAX, OFF(log.index_interval_bytes),
     "bytes between offset index entries"},
    {"log.message.timestamp.type", P_SPECIAL, "CreateTime", 0, 0, 0,
     "CreateTime or LogAppendTime, for topics that do not set their own"},
    {"log.message.timestamp.before.max.ms", P_SPECIAL, "9223372036854775807", 0, 0, 0,
     "a CreateTime record may be at most this much older than the broker's clock "
     "(else INVALID_TIMESTAMP)"},
    {"log.message.timestamp.after.max.ms", P_SPECIAL, "3600000", 0, 0, 0,
     "a CreateTime record may be at most this much ahead of the broker's clock (Kafka 4's "
     "default; else INVALID_TIMESTAMP)"},
    {"log.message.timestamp.difference.max.ms", P_SPECIAL, NULL, 0, 0, 0,
     "older name for both bounds above, where they are not set (deprecated in Kafka 3.6)"},
    {"message.max.bytes", P_INT, "1048588", 0, INT32_MAX, OFF(message_max_bytes),
     "largest record batch a topic accepts by default"},
    {"socket.request.max.bytes", P_INT, "104857600", 1024, INT32_MAX,
     OFF(socket_request_max_bytes), "largest request frame; a larger one closes the connection"},
    {"queued.max.request.bytes", P_SPECIAL, "268435456", 0, 0, 0,
     "bytes of requests held at once (being read or in flight); a large request waits unread "
     "beyond it; -1 no limit (default: 256 MiB, or socket.request.max.bytes if larger)"},
    {"max.connections", P_INT, "10000", 1, 1000000, OFF(max_connections),
     "connections accepted at once"},
    {"max.connections.per.ip", P_INT, "2147483647", 0, INT32_MAX, OFF(max_connections_per_ip),
     "connections accepted at once from one address (0 only with overrides)"},
    {"max.connections.per.ip.overrides", P_SPECIAL, "", 0, 0, 0,
     "per address or host name limits, e.g. hostName:100,127.0.0.1:200"},
    {"connections.max.idle.ms", P_LONG, "600000", 1, INT64_MAX, OFF(connections_max_idle_ms),
     "close a connection that has completed no request for this long"},
    {"group.min.session.timeout.ms", P_INT, "6000", 1, INT32_MAX,
     OFF(group_min_session_timeout_ms), "shortest session.timeout.ms a consumer may ask for"},
    {"group.max.session.timeout.ms", P_INT, "1800000", 1, INT32_MAX,
     OFF(group_max_session_timeout_ms), "longest session.timeout.ms a consumer may ask for"},
    {"group.initial.rebalance.delay.ms", P_INT, "3000", 0, INT32_MAX,
     OFF(group_initial_rebalance_delay_ms),
     "how long a new group waits for more members before its first rebalance"},
    {"group.max.size", P_INT, "2147483647", 1, INT32_MAX, OFF(group_max_size),
     "members a group may have"},
    {"offsets.retention.minutes", P_LONG, "10080", 1, INT64_MAX / 60000,
     OFF(offsets_retention_minutes), "keep an empty group's committed offsets this long"},
    {"offsets.retention.check.interval.ms", P_LONG, "600000", 1, INT64_MAX,
     OFF(offsets_retention_check_interval_ms), "how often offsets retention runs"},
    {"offset.metadata.max.bytes", P_INT, "4096", 0, INT32_MAX, OFF(offset_metadata_max_bytes),
     "longest metadata string an offset commit may carry"},
    {"compression.type", P_SPECIAL, "producer", 0, 0, 0,
     "must be producer: batches are stored as sent, never recompressed"},
    {"samsa.log.level", P_SPECIAL, "info", 0, 0, 0, "debug, info, warn or error"},
    /* Kafka properties with no effect on a single node, accepted so that an
     * existing server.properties works. */
    {"num.network.threads", P_NOOP, NULL, 0, 0, 0, NULL},
    {"num.io.threads", P_NOOP, NULL, 0, 0, 0, NULL},
    {"socket.send.buffer.bytes", P_NOOP, NULL, 0, 0, 0, NULL},
    {"socket.receive.buffer.bytes", P_NOOP, NULL, 0, 0, 0, NULL},
    {"num.recovery.threads.per.data.dir", P_NOOP, NULL, 0, 0, 0, NULL},
    {"offsets.topic.replication.factor", P_NOOP, NULL, 0, 0, 0, NULL},
    {"transaction.state.log.replication.factor", P_NOOP, NULL, 0, 0, 0, NULL},
    {"transaction.state.log.min.isr", P_NOOP, NULL, 0, 0, 0, NULL},
    {"zookeeper.connect", P_NOOP, NULL, 0, 0, 0, NULL},
    {"zookeeper.connection.timeout.ms", P_NOOP, NULL, 0, 0, 0, NULL},
    {"process.roles", P_NOOP, NULL, 0, 0, 0, NULL},
    {"controller.quorum.voters", P_NOOP, NULL, 0, 0, 0, NULL},
    {"controller.listener.names", P_NOOP, NULL, 0, 0, 0, NULL},
    {"inter.broker.listener.name", P_NOOP, NULL, 0, 0, 0, NULL},

    {"log.flush.interval.messages", P_NOOP, NULL, 0, 0, 0, NULL},
    {"log.flush.interval.ms", P_NOOP, NULL, 0, 0, 0, NULL},
    {"min.insync.replicas", P_NOOP, NULL, 0, 0, 0, NULL},
    {"unclean.leader.election.enable", P_NOOP, NULL, 0, 0, 0, NULL},
};
#define NDEFS (sizeof defs / sizeof defs[0])

int sm_endpoint_parse(sm_endpoint *ep, const char *s, char *err, size_t errlen)
{
    memset(ep, 0, sizeof *ep);
    const char *sep = strstr(s, "://");
    if (!sep || sep == s || (size_t)(sep - s) >= sizeof ep->name)
        return sm_fail(err, errlen, SM_EINVAL, "'%s' is not NAME://host:port", s);
    memcpy(ep->name, s, (size_t)(sep - s));
    const char *hp = sep + 3;
    const char *colon;
    if (*hp == '[') { /* [v6addr]:port */
        const char *rb = strchr(hp, ']');
        if (!rb || rb[1] != ':')
            return sm_fail(err, errlen, SM_EINVAL, "'%s': bad IPv6 address", s);
        if ((size_t)(rb - hp - 1) >= sizeof ep->host) /* the reason first: s is long */
            return sm_fail(err, errlen, SM_EINVAL, "host too long (over %zu characters): '%.40s...'",
                           sizeof ep->host - 1, s);
        memcpy(ep->host, hp + 1, (size_t)(rb - hp - 1));
        colon = rb + 1;
    } else {
        colon = strrchr(hp, ':');
        if (!colon)
            return sm_fail(err, errlen, SM_EINVAL, "'%s' has no port", s);
        if ((size_t)(colon - hp) >= sizeof ep->host)
            return sm_fail(err, errlen, SM_EINVAL, "host too long (over %zu characters): '%.40s...'",
                           sizeof ep->host - 1, s);
        memcpy(ep->host, hp, (size_t)(colon - hp));
    }
    int64_t port;
    if (sm_parse_i64(colon + 1, 0, 65535, &port) != SM_OK)
        return sm_fail(err, errlen, SM_EINVAL, "'%s': port must be 0..65535", s);
    ep->port = (int)port;
    return SM_OK;
}

/* ---- security: fail closed ------------------------------------------------ */

/* samsa-broker has no TLS, SASL or authorization yet. A configuration that
 * asks for any of them must not start a broker that quietly goes without:
 * every such property stops start-up, naming it. Returns what the property
 * asks for, or NULL if it is not a security property. `value` matters for
 * security.inter.broker.protocol only (PLAINTEXT is what we do). */
static const char *security_feature(const char *key, const char *value)
{
    if (!strncmp(key, "listener.name.", 14)) {
        /* listener.name.<listener>.<property>: the same properties per listener */
        const char *rest = strchr(key + 14, '.');
        if (!rest)
            return NULL;
        key = rest + 1;
        /* a SASL mechanism prefix: listener.name.x.scram-sha-256.sasl.jaas.config */
        if (strstr(key, ".sasl."))
            return "SASL authentication";
    }
    if (!strncmp(key, "ssl.", 4))
        return "TLS (ssl.*)";
    if (!strncmp(key, "sasl.", 5))
        return "SASL authentication (sasl.*)";
    if (!strncmp(key, "delegation.token.", 17))
        return "delegation tokens";
    if (!strcmp(key, "authorizer.class.name") || !strcmp(key, "super.users") ||
        !strcmp(key, "allow.everyone.if.no.acl.found"))
        return "authorization (ACLs)";
    if (!strcmp(key, "principal.builder.class"))
        return "authentication (principals)";
    if (!strcmp(key, "security.inter.broker.protocol") && strcasecmp(value, "PLAINTEXT"))
        return "security protocols other than PLAINTEXT";
    return NULL;
}

static bool is_protocol(const char *p)
{
    return !strcmp(p, "PLAINTEXT") || !strcmp(p, "SSL") || !strcmp(p, "SASL_PLAINTEXT") ||
           !strcmp(p, "SASL_SSL");
}

/* The security protocol of listener `name` by listener.security.protocol.map
 * (Kafka's default maps each protocol's name to itself), or NULL. A
 * malformed map is an error. */
static int listener_protocol(const sm_props *ps, const char *name, char *proto, size_t protolen,
                             char *err, size_t errlen)
{
    const sm_prop *p = sm_props_find(ps, "listener.security.protocol.map");
    const char *map = p ? p->value
                        : "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL";
    char *copy = strdup(map), *save = NULL;
    if (!copy)
        return SM_ENOMEM;
    int rc = SM_OK;
    proto[0] = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        char *colon = strchr(tok, ':');
        size_t n = strlen(tok);
        while (n && tok[n - 1] == ' ')
            tok[--n] = 0;
        if (!n)
            continue;
        if (!colon || colon == tok || !is_protocol(colon + 1)) {
            rc = sm_fail(err, errlen, SM_EINVAL,
                         "listener.security.protocol.map (%s): '%s' is not LISTENER:PROTOCOL with "
                         "PROTOCOL one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
                         p ? p->origin : "default", tok);
            break;
        }
        *colon = 0;
        if (!strcasecmp(tok, name) && !proto[0])
            snprintf(proto, protolen, "%s", colon + 1);
    }
    free(copy);
    return rc;
}

static bool is_controller_listener(const sm_props *ps, const char *name)
{
    if (!strcasecmp(name, "CONTROLLER"))
        return true;
    const char *names = sm_props_get(ps, "controller.listener.names");
    char *copy = names ? strdup(names) : NULL, *save = NULL;
    bool yes = false;
    for (char *tok = copy ? strtok_r(copy, ", ", &save) : NULL; tok && !yes;
         tok = strtok_r(NULL, ", ", &save))
        yes = !strcasecmp(tok, name);
    free(copy);
    return yes;
}

/* Picks the client listener out of a comma-separated list: the first one
 * that is not a KRaft controller listener. Every listener's security
 * protocol, after listener.security.protocol.map, must be PLAINTEXT. */
static int parse_listener_list(sm_endpoint *ep, const sm_props *ps, const char *list,
                               const char *prop, const char *origin, char *err, size_t errlen)
{
    char *copy = strdup(list), *save = NULL;
    if (!copy)
        return SM_ENOMEM;
    const sm_prop *map = sm_props_find(ps, "listener.security.protocol.map");
    int found = 0, rc = SM_OK;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (!*tok)
            continue;
        sm_endpoint e;
        char why[256], proto[32];
        if (sm_endpoint_parse(&e, tok, why, sizeof why) != SM_OK) {
            rc = sm_fail(err, errlen, SM_EINVAL, "%s (%s): %s", prop, origin, why);
            break;
        }
        if ((rc = listener_protocol(ps, e.name, proto, sizeof proto, err, errlen)) != SM_OK)
            break;
        bool controller = is_controller_listener(ps, e.name);
        if (!proto[0] && controller)
            continue; /* a KRaft controller listener: not opened here */
        if (!proto[0]) {
            rc = sm_fail(err, errlen, SM_EINVAL,
                         "%s (%s): listener %s has no security protocol in "
                         "listener.security.protocol.map (%s); add %s:PLAINTEXT",
                         prop, origin, e.name, map ? map->origin : "default", e.name);
            break;
        }
        if (strcmp(proto, "PLAINTEXT")) {
            if (map && strcasecmp(proto, e.name))
                rc = sm_fail(err, errlen, SM_EINVAL,
                             "listener.security.protocol.map (%s): listener %s (in %s) is mapped "
                             "to %s: samsa-broker does not support %s listeners yet (no TLS or "
                             "SASL); it will not serve %s without them",
                             map->origin, e.name, prop, proto, proto, e.name);
            else
                rc = sm_fail(err, errlen, SM_EINVAL,
                             "%s (%s): listener %s: samsa-broker does not support %s listeners "
                             "yet (no TLS or SASL); only PLAINTEXT",
                             prop, origin, tok, proto);
            break;
        }
        if (controller)
            continue;
        if (!found) {
            *ep = e;
            found = 1;
        } else {
            sm_warn("%s: only the first client listener is used; ignoring %s", prop, tok);
        }
    }
    free(copy);
    if (rc == SM_OK && !found)
        rc = sm_fail(err, errlen, SM_EINVAL, "%s (%s): no client listener in '%s'", prop, origin,
                     list);
    return rc;
}

static int set_log_dirs(sm_broker_config *cfg, const char *list, const char *origin, char *err,
                        size_t errlen)
{
    for (int i = 0; i < cfg->n_log_dirs; i++)
        free(cfg->log_dirs[i]);
    cfg->n_log_dirs = 0;
    char *copy = strdup(list), *save = NULL;
    if (!copy)
        return SM_ENOMEM;
    int rc = SM_OK;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        size_t n = strlen(tok);
        while (n && tok[n - 1] == ' ')
            tok[--n] = 0;
        if (!n)
            continue;
        if (cfg->n_log_dirs == SM_MAX_LOG_DIRS) {
            rc = sm_fail(err, errlen, SM_EINVAL, "log.dirs (%s): at most %d directories", origin,
                         SM_MAX_LOG_DIRS);
            break;
        }
        if (!(cfg->log_dirs[cfg->n_log_dirs++] = strdup(tok))) {
            rc = SM_ENOMEM;
            break;
        }
    }
    free(copy);
    if (rc == SM_OK && cfg->n_log_dirs == 0)
        rc = sm_fail(err, errlen, SM_EINVAL, "log.dirs (%s): no directory given", origin);
    return rc;
}

static int add_ip_limit(sm_broker_config *cfg, const char *ip, int32_t max)
{
    for (int i = 0; i < cfg->n_ip_overrides; i++)
        if (!strcmp(cfg->ip_overrides[i].ip, ip)) {
            cfg->ip_overrides[i].max = max; /* a later entry wins, as in a Java map */
            return SM_OK;
        }
    sm_ip_limit *v = realloc(cfg->ip_overrides, (size_t)(cfg->n_ip_overrides + 1) * sizeof *v);
    if (!v)
        return SM_ENOMEM;
    cfg->ip_overrides = v;
    snprintf(v[cfg->n_ip_overrides].ip, sizeof v[0].ip, "%s", ip);
    v[cfg->n_ip_overrides++].max = max;
    return SM_OK;
}

/* max.connections.per.ip.overrides: "host:count,..." (the count after the
 * last ':', so an IPv6 address may be given as it is); a host name is
 * resolved now, as Kafka does, to every address it has. */
static int parse_ip_overrides(sm_broker_config *cfg, const sm_prop *p, char *err, size_t errlen)
{
    char *copy = strdup(p->value), *save = NULL;
    if (!copy)
        return SM_ENOMEM;
    int rc = SM_OK;
    for (char *tok = strtok_r(copy, ",", &save); tok && rc == SM_OK;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        size_t n = strlen(tok);
        while (n && tok[n - 1] == ' ')
            tok[--n] = 0;
        if (!n)
            continue;
        char *colon = strrchr(tok, ':');
        int64_t max;
        if (!colon || colon == tok || sm_parse_i64(colon + 1, 0, INT32_MAX, &max) != SM_OK) {
            rc = sm_fail(err, errlen, SM_EINVAL,
                         "max.connections.per.ip.overrides (%s): '%s' is not host:count with a "
                         "count >= 0",
                         p->origin, tok);
            break;
        }
        *colon = 0;
        char *host = tok;
        if (*host == '[' && colon[-1] == ']') { /* [v6]:count */
            host++;
            colon[-1] = 0;
        }
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        struct addrinfo *res = NULL;
        int gai = getaddrinfo(host, NULL, &hints, &res);
        if (gai) {
            rc = sm_fail(err, errlen, SM_EINVAL,
                         "max.connections.per.ip.overrides (%s): cannot resolve '%s': %s",
                         p->origin, host, gai_strerror(gai));
            break;
        }
        for (struct addrinfo *ai = res; ai && rc == SM_OK; ai = ai->ai_next) {
            char ip[INET6_ADDRSTRLEN];
            const void *a = ai->ai_family == AF_INET
                                ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                                : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
            if (inet_ntop(ai->ai_family, a, ip, sizeof ip))
                rc = add_ip_limit(cfg, ip, (int32_t)max);
        }
        freeaddrinfo(res);
    }
    free(copy);
    return rc;
}

int32_t sm_broker_config_ip_limit(const sm_broker_config *cfg, const char *ip)
{
    for (int i = 0; i < cfg->n_ip_overrides; i++)
        if (!strcmp(cfg->ip_overrides[i].ip, ip))
            return cfg->ip_overrides[i].max;
    return cfg->max_connections_per_ip;
}

/* Value of the first of `names` that is set, scaled to ms; *found = 0 if none. */
static int time_prop(const sm_props *ps, const char *const *names, const int64_t *scale,
                     int n, bool allow_neg, int64_t *out, int *found, char *err, size_t errlen)
{
    *found = 0;
    for (int i = 0; i < n; i++) {
        const sm_prop *p = sm_props_find(ps, names[i]);
        if (!p)
            continue;
        int64_t v;
        if (sm_parse_i64(p->value, allow_neg ? -1 : 1, INT64_MAX / scale[i], &v) != SM_OK)
            return sm_fail(err, errlen, SM_EINVAL, "%s (%s): '%s' is not a valid %s", names[i],
                           p->origin, p->value,
                           allow_neg ? "number (-1 for unlimited)" : "positive number");
        *out = v < 0 ? -1 : v * scale[i];
        *found = 1;
        return SM_OK;
    }
    return SM_OK;
}

/* Pass 1 of the load, per key set: security properties stop start-up;
 * Kafka's properties with no effect here are reported once. */
static int check_name(const sm_prop *p, const sm_config_def *d, void *arg, char *err,
                      size_t errlen)
{
    const char *feature = security_feature(p->key, p->value);
    if (feature)
        return sm_fail(err, errlen, SM_EINVAL,
                       "%s (%s): samsa-broker does not support %s yet; it refuses to start "
                       "rather than run without it (remove the property to run unsecured)",
                       p->key, p->origin, feature);
    if (d && d->type == P_NOOP)
        sm_info("property %s (%s) has no effect on a single-node samsa-broker", p->key,
                p->origin);
    return SM_OK;
}

int sm_broker_config_load(sm_broker_config *cfg, const char *file, char **overrides,
                          int n_overrides, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    sm_props_init(&cfg->all);
    int rc;
    if ((rc = sm_config_read(&cfg->all, file, overrides, n_overrides, err, errlen)) != SM_OK)
        return rc;

    /* pass 1: every key must be known, and none may ask for security */
    if ((rc = sm_config_check_names(defs, NDEFS, &cfg->all, "samsa-broker", check_name, NULL,
                                    err, errlen)) != SM_OK)
        return rc;

    /* pass 2: defaults, then values; the special ones below */
    sm_log_config_default(&cfg->log);
    if ((rc = sm_config_apply(cfg, defs, NDEFS, &cfg->all, NULL, err, errlen)) != SM_OK)
        return rc;
    if (sm_props_find(&cfg->all, "node.id") && sm_props_find(&cfg->all, "broker.id")) {
        int64_t a = 0, b = 0;
        sm_parse_i64(sm_props_get(&cfg->all, "node.id"), 0, INT32_MAX, &a);
        sm_parse_i64(sm_props_get(&cfg->all, "broker.id"), 0, INT32_MAX, &b);
        if (a != b)
            return sm_fail(err, errlen, SM_EINVAL, "node.id (%lld) and broker.id (%lld) disagree",
                           (long long)a, (long long)b);
    }

    const sm_prop *p = sm_props_find(&cfg->all, "listeners");
    if ((rc = parse_listener_list(&cfg->listener, &cfg->all,
                                  p ? p->value : "PLAINTEXT://127.0.0.1:9092", "listeners",
                                  p ? p->origin : "default", err, errlen)) != SM_OK)
        return rc;
    if ((p = sm_props_find(&cfg->all, "advertised.listeners")) &&
        (rc = parse_listener_list(&cfg->advertised, &cfg->all, p->value, "advertised.listeners",
                                  p->origin, err, errlen)) != SM_OK)
        return rc;

    /* Kafka's default is -1 (no limit): five connections announcing 40 MiB
     * requests then hold 200 MB. Ours bounds that, and like Kafka insists on
     * room for the largest request allowed. */
    cfg->queued_max_request_bytes = cfg->socket_request_max_bytes > (256LL << 20)
                                        ? cfg->socket_request_max_bytes
                                        : 256LL << 20;
    if ((p = sm_props_find(&cfg->all, "queued.max.request.bytes"))) {
        int64_t v;
        if (sm_parse_i64(p->value, INT64_MIN, INT64_MAX, &v) != SM_OK)
            return sm_fail(err, errlen, SM_EINVAL,
                           "queued.max.request.bytes (%s): '%s' is not a whole number (-1 for no "
                           "limit)",
                           p->origin, p->value);
        if (v > 0 && v < cfg->socket_request_max_bytes)
            return sm_fail(err, errlen, SM_EINVAL,
                           "queued.max.request.bytes (%s) must be at least socket.request.max.bytes "
                           "(%d), or -1 for no limit: the largest request allowed could never be "
                           "read",
                           p->origin, cfg->socket_request_max_bytes);
        cfg->queued_max_request_bytes = v > 0 ? v : -1;
    }
    if ((p = sm_props_find(&cfg->all, "max.connections.per.ip.overrides")) &&
        (rc = parse_ip_overrides(cfg, p, err, errlen)) != SM_OK)
        return rc;
    if (cfg->max_connections_per_ip == 0 && cfg->n_ip_overrides == 0)
        return sm_fail(err, errlen, SM_EINVAL,
                       "max.connections.per.ip (%s) can be 0 only when "
                       "max.connections.per.ip.overrides is set (as in Kafka): no client could "
                       "connect",
                       sm_props_find(&cfg->all, "max.connections.per.ip")->origin);

    p = sm_props_find(&cfg->all, "log.dirs");
    if (!p)
        p = sm_props_find(&cfg->all, "log.dir");
    if ((rc = set_log_dirs(cfg, p ? p->value : "/tmp/samsa-logs", p ? p->origin : "default", err,
                           errlen)) != SM_OK)
        return rc;

    if ((p = sm_props_find(&cfg->all, "default.replication.factor"))) {
        int64_t v;
        if (sm_parse_i64(p->value, 1, 1, &v) != SM_OK)
            return sm_fail(err, errlen, SM_EINVAL,
                           "default.replication.factor (%s): '%s': samsa-broker is a single "
                           "node, only 1 is valid; replication belongs to a Kafka cluster",
                           p->origin, p->value);
    }
    cfg->default_replication_factor = 1;

    if ((p = sm_props_find(&cfg->all, "compression.type")) && strcmp(p->value, "producer"))
        return sm_fail(err, errlen, SM_EINVAL,
                       "compression.type (%s): '%s': only 'producer' is supported (batches are "
                       "stored as the producer compressed them)",
                       p->origin, p->value);

    if ((p = sm_props_find(&cfg->all, "log.message.timestamp.type"))) {
        if (!strcmp(p->value, "LogAppendTime"))
            cfg->log_append_time = true;
        else if (strcmp(p->value, "CreateTime"))
            return sm_fail(err, errlen, SM_EINVAL,
                           "log.message.timestamp.type (%s): '%s' is not CreateTime or "
                           "LogAppendTime",
                           p->origin, p->value);
    }

    /* Kafka 3.6+: each bound falls back to difference.max.ms where it is not set */
    static const char *const ts_names[] = {"log.message.timestamp.before.max.ms",
                                           "log.message.timestamp.after.max.ms",
                                           "log.message.timestamp.difference.max.ms"};
    int64_t ts_vals[3] = {INT64_MAX, 3600000, -1};
    bool ts_set[3] = {false, false, false};
    for (int i = 0; i < 3; i++) {
        if (!(p = sm_props_find(&cfg->all, ts_names[i])))
            continue;
        if (sm_parse_i64(p->value, 0, INT64_MAX, &ts_vals[i]) != SM_OK)
            return sm_fail(err, errlen, SM_EINVAL, "%s (%s): '%s' is not a whole number of "
                           "milliseconds >= 0", ts_names[i], p->origin, p->value);
        ts_set[i] = true;
    }
    cfg->ts_before_max_ms = ts_set[0] || !ts_set[2] ? ts_vals[0] : ts_vals[2];
    cfg->ts_after_max_ms = ts_set[1] || !ts_set[2] ? ts_vals[1] : ts_vals[2];

    cfg->log_level = SM_LOG_INFO;
    if ((p = sm_props_find(&cfg->all, "samsa.log.level"))) {
        int lvl = sm_log_parse_level(p->value);
        if (lvl < 0)
            return sm_fail(err, errlen, SM_EINVAL,
                           "samsa.log.level (%s): '%s' is not debug, info, warn or error",
                           p->origin, p->value);
        cfg->log_level = lvl;
    }

    static const char *const ret_names[] = {"log.retention.ms", "log.retention.minutes",
                                            "log.retention.hours"};
    static const int64_t ret_scale[] = {1, 60000, 3600000};
    int found;
    if ((rc = time_prop(&cfg->all, ret_names, ret_scale, 3, true, &cfg->log.retention_ms, &found,
                        err, errlen)) != SM_OK)
        return rc;
    if (!found)
        cfg->log.retention_ms = 168 * 3600000LL;
    static const char *const roll_names[] = {"log.roll.ms", "log.roll.hours"};
    static const int64_t roll_scale[] = {1, 3600000};
    if ((rc = time_prop(&cfg->all, roll_names, roll_scale, 2, false, &cfg->log.segment_ms, &found,
                        err, errlen)) != SM_OK)
        return rc;
    if (!found)
        cfg->log.segment_ms = 168 * 3600000LL;
    return SM_OK;
}

void sm_broker_config_release(sm_broker_config *cfg)
{
    for (int i = 0; i < cfg->n_log_dirs; i++)
        free(cfg->log_dirs[i]);
    cfg->n_log_dirs = 0;
    free(cfg->ip_overrides);
    cfg->ip_overrides = NULL;
    cfg->n_ip_overrides = 0;
    sm_props_release(&cfg->all);
}

void sm_broker_config_visit(const sm_broker_config *cfg, sm_config_visit fn, void *arg)
{
    char buf[64];
    for (size_t i = 0; i < NDEFS; i++) {
        const sm_config_def *d = &defs[i];
        if (d->type == P_NOOP || !strcmp(d->name, "broker.id") || !strcmp(d->name, "log.dir"))
            continue;
        const sm_prop *p = sm_props_find(&cfg->all, d->name);
        const char *val = p ? p->value : d->def;
        /* report derived values where the table's default is not the truth */
        if (!strcmp(d->name, "log.retention.ms") || !strcmp(d->name, "log.roll.ms")) {
            bool retention = !strcmp(d->name, "log.retention.ms");
            snprintf(buf, sizeof buf, "%lld",
                     (long long)(retention ? cfg->log.retention_ms : cfg->log.segment_ms));
            val = buf;
        }
        if (!strcmp(d->name, "queued.max.request.bytes")) {
            snprintf(buf, sizeof buf, "%lld", (long long)cfg->queued_max_request_bytes);
            val = buf;
        }
        if (!strcmp(d->name, "log.message.timestamp.before.max.ms") ||
            !strcmp(d->name, "log.message.timestamp.after.max.ms")) {
            bool before = !strcmp(d->name, "log.message.timestamp.before.max.ms");
            snprintf(buf, sizeof buf, "%lld",
                     (long long)(before ? cfg->ts_before_max_ms : cfg->ts_after_max_ms));
            val = buf;
        }
        if (!val)
            continue;
        fn(d->name, val, p == NULL, true, arg);
    }
}

void sm_broker_config_print_help(void)
{
    printf("Properties (Kafka's names; set in the file or with --override KEY=VALUE):\n");
    sm_config_print_table(defs, NDEFS, 34);
    printf("Accepted with no effect on a single node:");
    for (size_t i = 0, col = 0; i < NDEFS; i++) {
        if (defs[i].type != P_NOOP)
            continue;
        printf("%s%s", col++ % 3 ? ", " : "\n  ", defs[i].name);
    }
    printf("\n");
}
