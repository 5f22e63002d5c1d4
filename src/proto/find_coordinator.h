/* find_coordinator.h: FindCoordinator (key 10), versions 0-5.
 *
 * v0 has only Key (a group id); v1 adds KeyType (0 group, 1 transaction);
 * v2 is the same as v1. The v0 response is ErrorCode, NodeId, Host, Port;
 * v1 puts ThrottleTimeMs first and adds ErrorMessage after ErrorCode. On an
 * error, Kafka answers NodeId -1, Host "" and Port -1. librdkafka needs the
 * minimum advertised version to stay 0. Conventions: see header.h; the
 * response's nullable strings are null when their .p is NULL. */
#ifndef SM_PROTO_FIND_COORDINATOR_H
#define SM_PROTO_FIND_COORDINATOR_H

#include "proto/header.h"

#define SM_COORDINATOR_KEY_GROUP 0
#define SM_COORDINATOR_KEY_TRANSACTION 1

/* v3 is the first flexible version; v4 (KIP-699) asks for many keys at
 * once (CoordinatorKeys) and answers one Coordinator per key; v5 lets a
 * broker answer TRANSACTION_ABORTABLE (KIP-890; samsa keeps no
 * transactions, so never). v6 (share groups, KIP-932) is not spoken. */
#define SM_FIND_COORDINATOR_FLEX 3

typedef struct sm_find_coordinator_req {
    sm_str key;      /* v0-3; null for v4+ */
    int8_t key_type; /* v1+; SM_COORDINATOR_KEY_GROUP before */
    int32_t key_count; /* v4+: CoordinatorKeys; v0-3: 1, keys[0] == key */
    sm_str *keys;
} sm_find_coordinator_req;

int sm_find_coordinator_req_decode(sm_rd *r, int16_t version, sm_arena *a,
                                   sm_find_coordinator_req *out);

typedef struct sm_find_coordinator_one {
    sm_str key; /* v4+ */
    int32_t node_id;
    sm_str host;
    int32_t port;
    int16_t error_code;
    sm_str error_message; /* v1+, nullable */
} sm_find_coordinator_one;

typedef struct sm_find_coordinator_resp {
    int32_t throttle_time_ms; /* v1+ */
    int32_t coordinator_count; /* v0-3 send coordinators[0] alone (it must exist) */
    sm_find_coordinator_one *coordinators;
} sm_find_coordinator_resp;

void sm_find_coordinator_resp_encode(sm_wbuf *w, int16_t version,
                                     const sm_find_coordinator_resp *resp);

#endif
