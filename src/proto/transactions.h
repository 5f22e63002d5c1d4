/* transactions.h: the describe side of transactions: ListTransactions (key
 * 66, versions 0-1) and DescribeTransactions (65, version 0), all flexible.
 *
 * ListTransactions v1 adds DurationFilter. samsa-broker has no
 * transactions, so its answers list none; the codecs still read every
 * field. Conventions: see header.h. */
#ifndef SM_PROTO_TRANSACTIONS_H
#define SM_PROTO_TRANSACTIONS_H

#include "proto/header.h"

typedef struct sm_list_txns_req {
    int32_t state_filter_count;
    sm_str *state_filters;
    int32_t producer_id_filter_count;
    int64_t *producer_id_filters;
    int64_t duration_filter; /* v1+; -1 before */
} sm_list_txns_req;

int sm_list_txns_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_list_txns_req *out);

typedef struct sm_list_txns_resp {
    int32_t throttle_time_ms;
    int16_t error_code;
    int32_t unknown_state_filter_count;
    const sm_str *unknown_state_filters;
    /* TransactionStates: always empty here (no transactions) */
} sm_list_txns_resp;

void sm_list_txns_resp_encode(sm_wbuf *w, int16_t version, const sm_list_txns_resp *resp);

typedef struct sm_describe_txns_req {
    int32_t transactional_id_count;
    sm_str *transactional_ids;
} sm_describe_txns_req;

int sm_describe_txns_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_describe_txns_req *out);

/* One transactional id's answer: an error and the id (every other field at
 * its default: state "", timeout 0, start time 0, producer id 0, epoch 0,
 * no topics), as Kafka answers an id it does not know. */
typedef struct sm_describe_txns_state {
    int16_t error_code;
    sm_str transactional_id;
} sm_describe_txns_state;

typedef struct sm_describe_txns_resp {
    int32_t throttle_time_ms;
    int32_t state_count;
    const sm_describe_txns_state *states;
} sm_describe_txns_resp;

void sm_describe_txns_resp_encode(sm_wbuf *w, int16_t version, const sm_describe_txns_resp *resp);

#endif
