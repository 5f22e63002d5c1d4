/* describe_cluster.h: DescribeCluster (key 60), versions 0-2, all flexible.
 *
 * v1 adds EndpointType to the request (1 brokers, 2 controllers) and the
 * response; v2 IncludeFencedBrokers to the request and IsFenced to each
 * broker (KIP-1073). ClusterAuthorizedOperations is INT32_MIN when not
 * asked for.
 * Conventions: see header.h. */
#ifndef SM_PROTO_DESCRIBE_CLUSTER_H
#define SM_PROTO_DESCRIBE_CLUSTER_H

#include <stdbool.h>

#include "proto/header.h"

#define SM_ENDPOINT_TYPE_BROKER 1
#define SM_ENDPOINT_TYPE_CONTROLLER 2
#define SM_AUTHORIZED_OPERATIONS_OMITTED INT32_MIN

typedef struct sm_describe_cluster_req {
    bool include_cluster_authorized_operations;
    int8_t endpoint_type; /* v1+; 1 (brokers) before */
    bool include_fenced_brokers; /* v2+ */
} sm_describe_cluster_req;

int sm_describe_cluster_req_decode(sm_rd *r, int16_t version, sm_arena *a,
                                   sm_describe_cluster_req *out);

typedef struct sm_describe_cluster_broker {
    int32_t broker_id;
    sm_str host;
    int32_t port;
    sm_str rack; /* nullable */
    bool is_fenced; /* v2+ */
} sm_describe_cluster_broker;

typedef struct sm_describe_cluster_resp {
    int32_t throttle_time_ms;
    int16_t error_code;
    sm_str error_message; /* nullable */
    int8_t endpoint_type;  /* v1+ */
    sm_str cluster_id;
    int32_t controller_id;
    int32_t broker_count;
    sm_describe_cluster_broker *brokers;
    int32_t cluster_authorized_operations;
} sm_describe_cluster_resp;

void sm_describe_cluster_resp_encode(sm_wbuf *w, int16_t version,
                                     const sm_describe_cluster_resp *resp);

#endif
