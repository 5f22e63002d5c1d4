/* describe_configs.h: DescribeConfigs (key 32), versions 0-2.
 *
 * v0 sends IsDefault per config; v1 replaces it with ConfigSource and adds
 * IncludeSynonyms to the request and Synonyms to each config; v2 is the
 * same as v1. ThrottleTimeMs is the response's first field in every
 * version. The encoder derives v0's IsDefault from config_source (true for
 * SM_CONFIG_SOURCE_DEFAULT_CONFIG), as a Kafka client reads it back, so a
 * handler fills one field for every version.
 *
 * Synonyms (v1+): send them only when the request's include_synonyms is
 * set, else an empty list. Kafka lists them in precedence order, the first
 * being the entry's own source (so its Source equals the config's
 * ConfigSource), e.g. a topic's retention.ms: [TOPIC_CONFIG retention.ms,
 * STATIC_BROKER_CONFIG log.retention.ms, DEFAULT_CONFIG log.retention.hours].
 *
 * Conventions: see header.h; the response's nullable strings are null when
 * their .p is NULL, so a zeroed struct encodes sensibly. */
#ifndef SM_PROTO_DESCRIBE_CONFIGS_H
#define SM_PROTO_DESCRIBE_CONFIGS_H

#include <stdbool.h>

#include "proto/header.h"

/* ResourceType (Kafka's ConfigResource.Type), shared with AlterConfigs. */
#define SM_RESOURCE_UNKNOWN 0
#define SM_RESOURCE_TOPIC 2
#define SM_RESOURCE_BROKER 4
#define SM_RESOURCE_BROKER_LOGGER 8

/* ConfigSource (Kafka's DescribeConfigsResponse.ConfigSource). */
#define SM_CONFIG_SOURCE_UNKNOWN 0
#define SM_CONFIG_SOURCE_TOPIC_CONFIG 1
#define SM_CONFIG_SOURCE_DYNAMIC_BROKER_CONFIG 2
#define SM_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG 3
#define SM_CONFIG_SOURCE_STATIC_BROKER_CONFIG 4
#define SM_CONFIG_SOURCE_DEFAULT_CONFIG 5
#define SM_CONFIG_SOURCE_DYNAMIC_BROKER_LOGGER_CONFIG 6

typedef struct sm_describe_configs_resource {
    int8_t resource_type;
    sm_str resource_name; /* a topic name, or a broker id in decimal ("" for the cluster default) */
    int32_t configuration_key_count; /* -1: null, i.e. every config */
    sm_str *configuration_keys;
} sm_describe_configs_resource;

typedef struct sm_describe_configs_req {
    int32_t resource_count;
    sm_describe_configs_resource *resources;
    bool include_synonyms; /* v1+; false before */
} sm_describe_configs_req;

int sm_describe_configs_req_decode(sm_rd *r, int16_t version, sm_arena *a,
                                   sm_describe_configs_req *out);

typedef struct sm_describe_configs_synonym {
    sm_str name;
    sm_str value; /* nullable */
    int8_t source;
} sm_describe_configs_synonym;

typedef struct sm_describe_configs_config {
    sm_str name;
    sm_str value; /* nullable: null for sensitive configs */
    bool read_only;
    int8_t config_source; /* v1+; v0 sends IsDefault = (config_source == DEFAULT_CONFIG) */
    bool is_sensitive;
    int32_t synonym_count; /* v1+ */
    sm_describe_configs_synonym *synonyms;
} sm_describe_configs_config;

typedef struct sm_describe_configs_result {
    int16_t error_code;
    sm_str error_message; /* nullable */
    int8_t resource_type;
    sm_str resource_name;
    int32_t config_count;
    sm_describe_configs_config *configs;
} sm_describe_configs_result;

typedef struct sm_describe_configs_resp {
    int32_t throttle_time_ms;
    int32_t result_count;
    sm_describe_configs_result *results;
} sm_describe_configs_resp;

void sm_describe_configs_resp_encode(sm_wbuf *w, int16_t version,
                                     const sm_describe_configs_resp *resp);

#endif
