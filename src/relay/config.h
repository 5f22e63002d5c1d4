/* config.h: samsa-relay's configuration, from a relay.properties file and
 * --override KEY=VALUE arguments (Kafka's properties format, base/props.h).
 *
 * Every relay property is in one table (config.c) with its type, default
 * and bounds. Any other key is handed to librdkafka as a producer property
 * (rd_kafka_conf_set); a key neither knows, or a value either rejects, is a
 * start-up error that names the property and where it was set. A key
 * prefixed "producer." always goes to librdkafka with the prefix removed
 * (for names the relay uses itself, like batch.size). */
#ifndef SM_RELAY_CONFIG_H
#define SM_RELAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/props.h"

typedef enum { SM_ON_DEAD_CONTINUE = 0, SM_ON_DEAD_BLOCK } sm_on_dead;
/* PUBLISHED rows of a tracked topic's earlier incarnation (the topic was
 * deleted and created again before every tracking group consumed them). */
typedef enum { SM_ON_RECREATED_REPUBLISH = 0, SM_ON_RECREATED_KEEP } sm_on_recreated;

typedef struct sm_relay_config {
    char *outbox_db;         /* "sqlite:PATH" or a postgresql:// URL */
    char *bootstrap_servers; /* NULL only for --init-schema */
    char *relay_id;
    int32_t batch_size;      /* rows per claim */
    int32_t max_inflight;    /* rows claimed and not yet marked */
    int64_t poll_interval_ms;
    int32_t max_attempts;
    int64_t retry_backoff_ms;
    int64_t retry_backoff_max_ms;
    int64_t unknown_topic_dead_ms; /* a row to a topic unknown this long goes DEAD */
    char *dead_letter_topic; /* template; "${topic}" is the row's topic */
    sm_on_dead on_dead;
    char **track_groups;     /* track.groups entries: the group id */
    char **track_topics;     /* and its topic (NULL: every topic) */
    int n_track_groups;
    int64_t complete_interval_ms;
    sm_on_recreated on_topic_recreated;
    int64_t republish_stale_after_ms; /* 0: off */
    int64_t cleanup_after_ms;         /* 0: off */
    int64_t cleanup_interval_ms;
    bool cleanup_include_published;
    bool cleanup_archive;
    int64_t balance_interval_ms;
    int64_t slot_lease_ms; /* 0: off */
    bool claim_cursor;
    int64_t stats_interval_ms;
    int64_t shutdown_timeout_ms;
    char metrics_host[64]; /* numeric IPv4 */
    int metrics_port;      /* 0: any free port */
    int log_level;
    sm_props kafka; /* librdkafka producer properties, as set (prefix removed) */
    sm_props all;   /* every property as set */
} sm_relay_config;

/* Builds the config from an optional file and overrides (KEY=VALUE each).
 * need_kafka: bootstrap.servers is required (false for --init-schema).
 * On error returns a negative code with a message naming the property. */
int sm_relay_config_load(sm_relay_config *cfg, const char *file, char **overrides,
                         int n_overrides, bool need_kafka, char *err, size_t errlen);
void sm_relay_config_release(sm_relay_config *cfg);

/* The dead-letter topic for a row's topic: the template with every
 * "${topic}" replaced. Returns a malloc'd string (NULL: out of memory). */
char *sm_relay_dlt_name(const sm_relay_config *cfg, const char *topic);

/* A new librdkafka configuration holding every kafka property of cfg (the
 * relay's producers, its group readers and its record checker all start
 * from it); NULL with a message naming the property it refused. The caller
 * owns the result (rd_kafka_new takes it, or rd_kafka_conf_destroy). */
struct rd_kafka_conf_s *sm_relay_kafka_conf(const sm_relay_config *cfg, char *err, size_t errlen);

/* url with any password replaced by "***", for logs; into out. */
void sm_relay_redact_url(const char *url, char *out, size_t outlen);

/* Prints the property reference (name, default, meaning) for --help. */
void sm_relay_config_print_help(void);

#endif
