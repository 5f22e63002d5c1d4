/* h_transactions.c: ListTransactions and DescribeTransactions. samsa-broker
 * has no transactions (InitProducerId refuses transactional ids), so it
 * answers as a Kafka transaction coordinator that holds none
 * (TransactionStateManager.listTransactionStates, TransactionCoordinator
 * .handleDescribeTransactions): no transaction listed, a state filter that
 * names no Kafka transaction state reported back in UnknownStateFilters;
 * every transactional id TRANSACTIONAL_ID_NOT_FOUND, an empty one
 * INVALID_REQUEST. */
#include <string.h>

#include "base/err.h"
#include "broker/api.h"
#include "broker/conn.h"
#include "proto/kafka.h"
#include "proto/transactions.h"

#define KERR_TRANSACTIONAL_ID_NOT_FOUND 105

/* Kafka's TransactionState names. */
static const char *const states[] = {"Empty",          "Ongoing",      "PrepareCommit",
                                     "PrepareAbort",   "CompleteCommit", "CompleteAbort",
                                     "Dead",           "PrepareEpochFence"};

static bool known_state(sm_str s)
{
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        if (sm_str_eqc(s, states[i]))
            return true;
    return false;
}

void sm_handle_list_transactions(sm_req *req)
{
    sm_list_txns_req q;
    if (sm_list_txns_req_decode(&req->body, req->hdr.api_version, &req->arena, &q) != SM_OK) {
        sm_req_fail_connection(req, "malformed ListTransactions request");
        return;
    }
    sm_str *unknown = sm_arena_calloc(&req->arena, (size_t)q.state_filter_count + 1, sizeof *unknown);
    if (!unknown) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    sm_list_txns_resp resp = {0};
    for (int32_t i = 0; i < q.state_filter_count; i++)
        if (!known_state(q.state_filters[i]))
            unknown[resp.unknown_state_filter_count++] = q.state_filters[i];
    resp.unknown_state_filters = unknown;
    sm_resp_begin(req);
    sm_list_txns_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}

void sm_handle_describe_transactions(sm_req *req)
{
    sm_describe_txns_req q;
    if (sm_describe_txns_req_decode(&req->body, req->hdr.api_version, &req->arena, &q) != SM_OK) {
        sm_req_fail_connection(req, "malformed DescribeTransactions request");
        return;
    }
    sm_describe_txns_state *st =
        sm_arena_calloc(&req->arena, (size_t)q.transactional_id_count + 1, sizeof *st);
    if (!st) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < q.transactional_id_count; i++) {
        st[i].transactional_id = q.transactional_ids[i];
        st[i].error_code = q.transactional_ids[i].len == 0 ? SM_KERR_INVALID_REQUEST
                                                           : KERR_TRANSACTIONAL_ID_NOT_FOUND;
    }
    sm_describe_txns_resp resp = {0, q.transactional_id_count, st};
    sm_resp_begin(req);
    sm_describe_txns_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}
