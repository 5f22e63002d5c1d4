/* h_producers.c: DescribeProducers, from the idempotent producers' state
 * each partition keeps (idempotence.c), answered as Kafka's
 * KafkaApis.handleDescribeProducersRequest does: an invalid topic name is
 * INVALID_TOPIC_EXCEPTION and an unknown topic UNKNOWN_TOPIC_OR_PARTITION
 * (with Kafka's messages) for each partition asked for; a partition the
 * topic does not have is UNKNOWN_TOPIC_OR_PARTITION without one. */
#include <stdlib.h>

#include "base/err.h"
#include "broker/api.h"
#include "broker/conn.h"
#include "broker/idempotence.h"
#include "broker/partition.h"
#include "broker/topics.h"
#include "proto/describe_producers.h"
#include "proto/kafka.h"

typedef struct collect {
    sm_req *req;
    sm_dp_partition *out;
    int32_t cap;
    bool oom;
} collect;

static void add_producer(int64_t producer_id, int16_t epoch, int32_t last_seq,
                         int64_t last_timestamp, void *arg)
{
    collect *c = arg;
    if (c->oom)
        return;
    sm_dp_partition *p = c->out;
    if (p->producer_count == c->cap) {
        int32_t cap = c->cap ? c->cap * 2 : 8;
        sm_dp_producer *nv = sm_arena_calloc(&c->req->arena, (size_t)cap, sizeof *nv);
        if (!nv) {
            c->oom = true;
            return;
        }
        for (int32_t i = 0; i < p->producer_count; i++)
            nv[i] = p->active_producers[i];
        p->active_producers = nv;
        c->cap = cap;
    }
    p->active_producers[p->producer_count++] = (sm_dp_producer){
        .producer_id = producer_id,
        .producer_epoch = epoch,
        .last_sequence = last_seq,
        .last_timestamp = last_timestamp,
        .coordinator_epoch = -1, /* no transactions */
        .current_txn_start_offset = -1,
    };
}

void sm_handle_describe_producers(sm_req *req)
{
    sm_dp_req dr;
    if (sm_dp_req_decode(&req->body, req->hdr.api_version, &req->arena, &dr) != SM_OK) {
        sm_req_fail_connection(req, "malformed DescribeProducers request");
        return;
    }
    sm_dp_resp resp = {0};
    resp.topic_count = dr.topic_count;
    resp.topics = sm_arena_calloc(&req->arena, (size_t)dr.topic_count + 1, sizeof *resp.topics);
    if (!resp.topics) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < dr.topic_count; i++) {
        const sm_dp_topic_req *q = &dr.topics[i];
        sm_dp_topic *ot = &resp.topics[i];
        ot->name = q->name;
        ot->partition_count = q->partition_count;
        ot->partitions =
            sm_arena_calloc(&req->arena, (size_t)q->partition_count + 1, sizeof *ot->partitions);
        if (!ot->partitions) {
            sm_req_fail_connection(req, "out of memory");
            return;
        }
        int16_t topic_err = SM_KERR_NONE;
        sm_str topic_msg = SM_STR_NULL;
        sm_topic *t = NULL;
        if (!sm_topic_name_valid(q->name.p, q->name.len)) {
            topic_err = SM_KERR_INVALID_TOPIC_EXCEPTION;
            topic_msg = SM_STR_LIT("Topic name is invalid");
        } else if (!(t = sm_topic_find(req->b, q->name))) {
            topic_err = SM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            topic_msg = SM_STR_LIT("This server does not host this topic-partition.");
        }
        for (int32_t j = 0; j < q->partition_count; j++) {
            sm_dp_partition *op = &ot->partitions[j];
            int32_t idx = q->partition_indexes[j];
            op->partition_index = idx;
            op->error_message = SM_STR_NULL;
            if (topic_err != SM_KERR_NONE) {
                op->error_code = topic_err;
                op->error_message = topic_msg;
                continue;
            }
            if (idx < 0 || idx >= t->npart || !t->parts[idx] || !t->parts[idx]->log) {
                op->error_code = SM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            collect c = {req, op, 0, false};
            if (sm_idem_visit(t->parts[idx], add_producer, &c) != SM_OK || c.oom) {
                sm_req_fail_connection(req, "out of memory");
                return;
            }
        }
    }
    sm_resp_begin(req);
    sm_dp_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}
