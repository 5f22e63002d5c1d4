/* h_leader_epoch.c: OffsetForLeaderEpoch, answered as Kafka's
 * Partition.lastOffsetForLeaderEpoch does from a leader-epoch cache that
 * holds one entry: samsa-broker is the only leader a partition ever had, at
 * epoch 0 (SM_LEADER_EPOCH, the epoch Metadata v7+ reports and every batch
 * carries), starting at the log start offset, once anything was appended.
 *   CurrentLeaderEpoch (v2+, -1 none): newer than 0 UNKNOWN_LEADER_EPOCH,
 *     older FENCED_LEADER_EPOCH;
 *   LeaderEpoch 0: the log end offset, epoch 0;
 *   LeaderEpoch newer than 0, -1, or an empty log: epoch -1, offset -1
 *     (UNDEFINED_EPOCH / UNDEFINED_EPOCH_OFFSET), no error;
 *   LeaderEpoch older than 0 (other than -1): that epoch, ending where
 *     epoch 0 starts (LeaderEpochFileCache.endOffsetFor's floor-less case). */
#include "base/err.h"
#include "broker/api.h"
#include "broker/conn.h"
#include "broker/partition.h"
#include "broker/topics.h"
#include "proto/kafka.h"
#include "proto/offset_for_leader_epoch.h"
#include "storage/log.h"

static void answer(sm_plog *log, const sm_ofle_partition *q, sm_ofle_partition_resp *out)
{
    out->leader_epoch = -1;
    out->end_offset = -1;
    if (q->current_leader_epoch != -1 && q->current_leader_epoch > SM_LEADER_EPOCH) {
        out->error_code = SM_KERR_UNKNOWN_LEADER_EPOCH;
        return;
    }
    if (q->current_leader_epoch != -1 && q->current_leader_epoch < SM_LEADER_EPOCH) {
        out->error_code = SM_KERR_FENCED_LEADER_EPOCH;
        return;
    }
    if (sm_plog_offline(log)) {
        out->error_code = SM_KERR_KAFKA_STORAGE_ERROR;
        return;
    }
    if (sm_plog_end_offset(log) == 0 || q->leader_epoch == -1 || q->leader_epoch > SM_LEADER_EPOCH)
        return; /* no such epoch: undefined, no error */
    if (q->leader_epoch == SM_LEADER_EPOCH) {
        out->leader_epoch = SM_LEADER_EPOCH;
        out->end_offset = sm_plog_end_offset(log);
        return;
    }
    out->leader_epoch = q->leader_epoch;
    out->end_offset = sm_plog_start_offset(log);
}

void sm_handle_offset_for_leader_epoch(sm_req *req)
{
    sm_ofle_req lr;
    if (sm_ofle_req_decode(&req->body, req->hdr.api_version, &req->arena, &lr) != SM_OK) {
        sm_req_fail_connection(req, "malformed OffsetForLeaderEpoch request");
        return;
    }
    sm_ofle_resp resp = {0};
    resp.topic_count = lr.topic_count;
    resp.topics = sm_arena_calloc(&req->arena, (size_t)lr.topic_count + 1, sizeof *resp.topics);
    if (!resp.topics) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < lr.topic_count; i++) {
        const sm_ofle_topic *qt = &lr.topics[i];
        sm_ofle_topic_resp *ot = &resp.topics[i];
        ot->topic = qt->topic;
        ot->partition_count = qt->partition_count;
        ot->partitions =
            sm_arena_calloc(&req->arena, (size_t)qt->partition_count + 1, sizeof *ot->partitions);
        if (!ot->partitions) {
            sm_req_fail_connection(req, "out of memory");
            return;
        }
        sm_topic *t = sm_topic_find(req->b, qt->topic);
        for (int32_t j = 0; j < qt->partition_count; j++) {
            const sm_ofle_partition *q = &qt->partitions[j];
            sm_ofle_partition_resp *out = &ot->partitions[j];
            out->partition = q->partition;
            if (!t || q->partition < 0 || q->partition >= t->npart || !t->parts[q->partition] ||
                !t->parts[q->partition]->log) {
                out->error_code = SM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                out->leader_epoch = -1;
                out->end_offset = -1;
                continue;
            }
            answer(t->parts[q->partition]->log, q, out);
        }
    }
    sm_resp_begin(req);
    sm_ofle_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}
