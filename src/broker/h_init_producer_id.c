/* h_init_producer_id.c: InitProducerId: a new producer id (epoch 0) for an
 * idempotent producer, from the blocks idempotence.c reserves on disk. A
 * transactional.id is refused: transactions are not supported. */
#include <errno.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "broker/api.h"
#include "broker/broker.h"
#include "broker/conn.h"
#include "broker/idempotence.h"
#include "proto/init_producer_id.h"
#include "proto/kafka.h"

void sm_handle_init_producer_id(sm_req *req)
{
    sm_broker *b = req->b;
    sm_init_producer_id_req ir;
    if (sm_init_producer_id_req_decode(&req->body, req->hdr.api_version, &req->arena, &ir) !=
        SM_OK) {
        sm_req_fail_connection(req, "malformed InitProducerId request");
        return;
    }
    sm_init_producer_id_resp resp = {0};
    resp.producer_id = -1;
    resp.producer_epoch = -1;
    if (ir.transactional_id.len >= 0) {
        /* transactions are not supported: a clear, fatal answer */
        sm_log_limited(SM_LOG_WARN, "InitProducerId from %s for transactional.id '%.*s' refused: "
                       "samsa-broker does not support transactions",
                       req->conn ? req->conn->peer : "-", ir.transactional_id.len,
                       ir.transactional_id.p ? ir.transactional_id.p : "");
        resp.error_code = SM_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    } else if (sm_producer_id_next(b, &resp.producer_id) != SM_OK) {
        sm_log_limited(SM_LOG_ERROR, "cannot reserve producer ids: %s", strerror(errno));
        resp.producer_id = -1;
        resp.error_code = SM_KERR_KAFKA_STORAGE_ERROR;
    } else {
        resp.producer_epoch = 0;
    }
    sm_resp_begin(req);
    sm_init_producer_id_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}
