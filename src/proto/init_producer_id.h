/* init_producer_id.h: InitProducerId (key 22), versions 0-1.
 *
 * v0 and v1 have the same fields; ThrottleTimeMs is the response's first
 * field in both. An idempotent producer sends a null TransactionalId and
 * gets a fresh ProducerId with ProducerEpoch 0; a non-null TransactionalId
 * asks for a transactional producer (we answer it only when transactions
 * exist). On error Kafka answers ProducerId -1, ProducerEpoch -1.
 * Conventions: see header.h. */
#ifndef SM_PROTO_INIT_PRODUCER_ID_H
#define SM_PROTO_INIT_PRODUCER_ID_H

#include "proto/header.h"

/* v2 is the first flexible version. v3 (KIP-360) lets a producer give its
 * ProducerId and ProducerEpoch to have the epoch bumped: not spoken (samsa
 * hands out a new producer id each time). */
#define SM_INIT_PRODUCER_ID_FLEX 2

typedef struct sm_init_producer_id_req {
    sm_str transactional_id; /* nullable: null for an idempotent producer */
    int32_t transaction_timeout_ms;
} sm_init_producer_id_req;

int sm_init_producer_id_req_decode(sm_rd *r, int16_t version, sm_arena *a,
                                   sm_init_producer_id_req *out);

typedef struct sm_init_producer_id_resp {
    int32_t throttle_time_ms;
    int16_t error_code;
    int64_t producer_id;
    int16_t producer_epoch;
} sm_init_producer_id_resp;

void sm_init_producer_id_resp_encode(sm_wbuf *w, int16_t version,
                                     const sm_init_producer_id_resp *resp);

#endif
