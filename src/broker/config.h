/* config.h: samsa-broker's configuration, from a server.properties file and
 * --override KEY=VALUE arguments, with Kafka's property names.
 *
 * Every property we read is in one table (config.c) with its type, default
 * and bounds; an unknown or malformed property is a start-up error that
 * names it and where it was set. Kafka properties that have no meaning for a
 * single-node broker (thread counts, ZooKeeper, KRaft quorum settings) are
 * accepted and reported once as having no effect, so an existing Kafka
 * server.properties works unchanged. */
#ifndef SM_BROKER_CONFIG_H
#define SM_BROKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h" /* sm_parse_i64, sm_parse_bool: topic configs use them too */
#include "base/props.h"
#include "storage/log.h"

#define SM_MAX_LOG_DIRS 16

typedef struct sm_endpoint {
    char name[32]; /* listener name, e.g. PLAINTEXT */
    char host[256];
    int port;
} sm_endpoint;

/* One entry of max.connections.per.ip.overrides: an address (a host name
 * is resolved at start-up, one entry per address) and its limit. */
typedef struct sm_ip_limit {
    char ip[46]; /* INET6_ADDRSTRLEN, as inet_ntop writes it */
    int32_t max;
} sm_ip_limit;

typedef struct sm_broker_config {
    int32_t node_id;
    sm_endpoint listener;
    sm_endpoint advertised; /* host empty: derive from the listener */
    int n_log_dirs;
    char *log_dirs[SM_MAX_LOG_DIRS];
    int32_t num_partitions;
    int16_t default_replication_factor;
    bool auto_create_topics;
    int32_t auto_create_max_partitions; /* samsa.auto.create.max.partitions.per.request */
    bool delete_topic_enable;
    sm_log_config log; /* segment/roll/retention/index defaults for topics */
    int32_t message_max_bytes;
    int32_t socket_request_max_bytes;
    int64_t queued_max_request_bytes; /* request bytes held at once; <= 0: no limit */
    int64_t retention_check_interval_ms;
    int32_t max_connections;
    int32_t max_connections_per_ip;     /* max.connections.per.ip */
    sm_ip_limit *ip_overrides;          /* max.connections.per.ip.overrides, resolved */
    int n_ip_overrides;
    int64_t connections_max_idle_ms;
    bool log_append_time; /* log.message.timestamp.type=LogAppendTime */
    /* bounds on a CreateTime record's timestamp around the broker's clock:
     * log.message.timestamp.before.max.ms / after.max.ms, or the older
     * log.message.timestamp.difference.max.ms for either one not set */
    int64_t ts_before_max_ms;
    int64_t ts_after_max_ms;
    int32_t group_min_session_timeout_ms;
    int32_t group_max_session_timeout_ms;
    int32_t group_initial_rebalance_delay_ms;
    int32_t group_max_size;
    int64_t offsets_retention_minutes;
    int64_t offsets_retention_check_interval_ms;
    int32_t offset_metadata_max_bytes;
    int log_level;        /* samsa.log.level */
    sm_props all;         /* every property as set, for DescribeConfigs */
} sm_broker_config;

/* Builds the config from an optional file and overrides (KEY=VALUE each).
 * On error returns a negative code with a message naming the property. */
int sm_broker_config_load(sm_broker_config *cfg, const char *file, char **overrides,
                          int n_overrides, char *err, size_t errlen);
void sm_broker_config_release(sm_broker_config *cfg);

/* The broker-level properties with their effective values, for
 * DescribeConfigs: calls fn once per property. `is_default` is true when the
 * value was not set in the file or on the command line. */
typedef void (*sm_config_visit)(const char *name, const char *value, bool is_default,
                                bool read_only, void *arg);
void sm_broker_config_visit(const sm_broker_config *cfg, sm_config_visit fn, void *arg);

/* The most connections the address `ip` (as inet_ntop writes it; an IPv4
 * client of an IPv6 socket as plain IPv4) may hold. */
int32_t sm_broker_config_ip_limit(const sm_broker_config *cfg, const char *ip);

/* Prints the property reference (name, default, meaning) for --help. */
void sm_broker_config_print_help(void);

/* Parses "NAME://host:port" (host may be empty or [v6]); port 0 means any. */
int sm_endpoint_parse(sm_endpoint *ep, const char *s, char *err, size_t errlen);

#endif
