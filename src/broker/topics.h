/* topics.h: the topic registry (topics.c): create, delete, add partitions,
 * topic configs, load at start-up, and auto-creation's per-request budget.
 *
 * Threads: the event-loop thread only.
 *
 * Ownership: the broker's `topics` map owns every sm_topic; a topic owns
 * its partitions (partition.h), each its log. A pointer from sm_topic_find
 * is borrowed: it stays valid until sm_topic_delete on it, which frees it
 * (after answering what waits on its partitions), so a handler must not
 * keep one across a return to the loop.
 *
 * Errors: the calls that serve a request (create, delete, add partitions,
 * set configs, auto-create) return a Kafka error code (SM_KERR_*) and fill
 * `msg` with a human message for the response; start-up and shutdown calls
 * return SM_OK or a negative code from base/err.h and fill `err`. A change
 * on disk that cannot be finished blocks further topic changes until a
 * restart finishes it (KAFKA_STORAGE_ERROR meanwhile). */
#ifndef SM_BROKER_TOPICS_H
#define SM_BROKER_TOPICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/props.h"
#include "storage/log.h"

typedef struct sm_broker sm_broker;
typedef struct sm_req sm_req;
typedef struct sm_topic sm_topic;
typedef struct sm_partition sm_partition;

typedef struct sm_topic_cfg {
    sm_log_config log;
    int32_t max_message_bytes;
    bool log_append_time;
    int64_t ts_before_max_ms; /* message.timestamp.before.max.ms */
    int64_t ts_after_max_ms;  /* message.timestamp.after.max.ms */
} sm_topic_cfg;

struct sm_topic {
    char *name;
    uint8_t id[16]; /* KIP-516 topic id: random, never zero, stored with the topic's configs */
    int32_t npart;
    sm_partition **parts;
    sm_props overrides; /* topic-level configs set by CreateTopics/AlterConfigs */
    sm_topic_cfg cfg;   /* effective values */
};

sm_topic *sm_topic_find(sm_broker *b, sm_str name);
/* The topic whose id is `id` (KIP-516), or NULL; a scan of every topic. */
sm_topic *sm_topic_find_id(sm_broker *b, const uint8_t id[16]);
/* Creates a topic (validate_only: checks only). configs: name/value pairs.
 * Returns a Kafka error code; *msg gets a human message for errors. */
int16_t sm_topic_create(sm_broker *b, sm_str name, int32_t partitions, int16_t replication,
                        const sm_props *configs, bool validate_only, char *msg, size_t msglen,
                        sm_topic **out);
int16_t sm_topic_delete(sm_broker *b, sm_topic *t);
int16_t sm_topic_add_partitions(sm_broker *b, sm_topic *t, int32_t total, bool validate_only,
                                char *msg, size_t msglen);
/* Validates and applies topic configs (AlterConfigs replaces the whole set). */
int16_t sm_topic_set_configs(sm_broker *b, sm_topic *t, const sm_props *configs,
                             bool validate_only, char *msg, size_t msglen);
/* What one request may still auto-create: a Metadata or Produce request
 * creates topics until it has created samsa.auto.create.max.partitions.per.request
 * partitions (the first topic always); the other new topics it names are
 * answered UNKNOWN_TOPIC_OR_PARTITION, as Kafka answers a topic whose
 * creation it has passed to the controller, and the client's retry creates
 * them. One creation is a directory and files per partition: bounding it
 * keeps one request from stalling the broker or filling the disk at once. */
typedef struct sm_autocreate {
    int32_t partitions_left;
    int32_t topics_created;
    int32_t topics_held; /* answered UNKNOWN_TOPIC_OR_PARTITION for want of room */
} sm_autocreate;

void sm_autocreate_init(sm_broker *b, sm_autocreate *ac);
/* Logs (once per request, rate-limited) that some new topics were held. */
void sm_autocreate_report(sm_req *req, const sm_autocreate *ac);

/* Auto-creation on Metadata/Produce: returns the topic, or NULL with *err set
 * to the Kafka error to report (UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC_EXCEPTION).
 * ac: the request's allowance (it is charged for what is created). */
sm_topic *sm_topic_get_or_autocreate(sm_broker *b, sm_str name, bool allow, sm_autocreate *ac,
                                     int16_t *err);
/* Topic configs with effective values for DescribeConfigs; source is
 * Kafka's ConfigSource (1 topic override, 5 default, 4 static broker). */
typedef void (*sm_topic_config_fn)(const char *name, const char *value, int source,
                                   bool read_only, void *arg);
void sm_topic_config_visit(sm_broker *b, sm_topic *t, sm_topic_config_fn fn, void *arg);
/* What topic config name is without a topic's own value (DescribeConfigs'
 * synonyms): its value (*value, in buf when computed), the name it comes from
 * (*from: the broker property, e.g. log.retention.ms, else name itself), and
 * returns Kafka's ConfigSource (4 static broker config, 5 default); -1 when
 * name is no topic config. */
int sm_topic_config_default(sm_broker *b, const char *name, char *buf, size_t buflen,
                            const char **value, const char **from);
int sm_topics_load(sm_broker *b, char *err, size_t errlen);
/* Start-up, once the offsets store is open: the committed offsets of the
 * topics whose deletion a crash cut short (finished by sm_topics_load) are
 * dropped durably, then those deletions' records are cleared. */
int sm_topics_finish_deletes(sm_broker *b, char *err, size_t errlen);
/* fsyncs and closes every log; returns SM_OK if every sync succeeded. */
int sm_topics_close_all(sm_broker *b);

#endif
