/* h_list_offsets.c: ListOffsets: a partition's log start (EARLIEST, and
 * EARLIEST_LOCAL: no tiered storage), its end (LATEST), the record with the
 * largest timestamp (MAX_TIMESTAMP), or the first offset whose timestamp is
 * at or after a time (the partition's time index, storage/timestamp.c);
 * LATEST_TIERED is -1 (nothing tiered), as Kafka answers without remote
 * storage. v0 answers the old OldStyleOffsets array with that one offset.
 * LeaderEpoch (v4+) is as Kafka's leader epoch cache gives it: 0 (the one
 * epoch, SM_LEADER_EPOCH) once the log has had a record, -1 for an offset
 * not found or a log never written. */
#include "base/err.h"
#include "broker/api.h"
#include "broker/broker.h"
#include "broker/conn.h"
#include "broker/partition.h"
#include "broker/topics.h"
#include "proto/kafka.h"
#include "proto/list_offsets.h"

void sm_handle_list_offsets(sm_req *req)
{
    sm_list_offsets_req lr;
    if (sm_list_offsets_req_decode(&req->body, req->hdr.api_version, &req->arena, &lr) != SM_OK) {
        sm_req_fail_connection(req, "malformed ListOffsets request");
        return;
    }
    sm_list_offsets_resp resp = {0, lr.topic_count, NULL};
    resp.topics = sm_arena_calloc(&req->arena, (size_t)lr.topic_count + 1, sizeof *resp.topics);
    if (!resp.topics) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < lr.topic_count; i++) {
        const sm_list_offsets_topic *lt = &lr.topics[i];
        sm_list_offsets_topic_resp *rt = &resp.topics[i];
        rt->name = lt->name.len < 0 ? SM_STR_LIT("") : lt->name;
        rt->partition_count = lt->partition_count;
        rt->partitions =
            sm_arena_calloc(&req->arena, (size_t)lt->partition_count + 1, sizeof *rt->partitions);
        if (!rt->partitions) {
            sm_req_fail_connection(req, "out of memory");
            return;
        }
        sm_topic *t = sm_topic_find(req->b, lt->name);
        for (int32_t j = 0; j < lt->partition_count; j++) {
            const sm_list_offsets_partition *lp = &lt->partitions[j];
            sm_list_offsets_partition_resp *rp = &rt->partitions[j];
            rp->partition_index = lp->partition_index;
            rp->timestamp = rp->offset = -1;
            rp->leader_epoch = -1;
            if (!t || lp->partition_index < 0 || lp->partition_index >= t->npart) {
                rp->error_code = SM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            sm_plog *log = t->parts[lp->partition_index]->log;
            /* the epoch cache has its one entry once anything was appended */
            int32_t epoch = sm_plog_end_offset(log) > 0 ? SM_LEADER_EPOCH : -1;
            int v = req->hdr.api_version;
            if (lp->current_leader_epoch > SM_LEADER_EPOCH) {
                rp->error_code = SM_KERR_UNKNOWN_LEADER_EPOCH;
            } else if (sm_plog_offline(log)) {
                rp->error_code = SM_KERR_KAFKA_STORAGE_ERROR;
            } else if (lp->timestamp == SM_LIST_OFFSETS_LATEST_TIMESTAMP) {
                rp->offset = sm_plog_end_offset(log);
                rp->leader_epoch = epoch;
            } else if (lp->timestamp == SM_LIST_OFFSETS_EARLIEST_TIMESTAMP ||
                       (lp->timestamp == SM_LIST_OFFSETS_EARLIEST_LOCAL && v >= 8)) {
                rp->offset = sm_plog_start_offset(log);
                rp->leader_epoch = epoch;
            } else if (lp->timestamp == SM_LIST_OFFSETS_LATEST_TIERED && v >= 9) {
                rp->offset = -1; /* nothing is tiered */
            } else if (lp->timestamp == SM_LIST_OFFSETS_MAX_TIMESTAMP && v >= 7) {
                int rc = sm_plog_max_timestamp(log, &rp->offset, &rp->timestamp);
                if (rc == SM_OK) {
                    rp->leader_epoch = SM_LEADER_EPOCH;
                } else {
                    rp->offset = rp->timestamp = -1;
                    if (rc != SM_ENOENT)
                        rp->error_code = SM_KERR_KAFKA_STORAGE_ERROR;
                }
            } else if (lp->timestamp >= 0) {
                int rc = sm_plog_offset_for_time(log, lp->timestamp, &rp->offset, &rp->timestamp);
                if (rc == SM_OK)
                    rp->leader_epoch = SM_LEADER_EPOCH;
                if (rc == SM_ENOENT) {
                    rp->offset = rp->timestamp = -1; /* no record that recent */
                } else if (rc != SM_OK) {
                    rp->offset = rp->timestamp = -1;
                    rp->error_code = SM_KERR_KAFKA_STORAGE_ERROR;
                }
            } else {
                rp->error_code = SM_KERR_INVALID_REQUEST;
            }
            /* v0 answers one offset (clients ask for 1), or none */
            if (rp->error_code == SM_KERR_NONE && rp->offset >= 0 && lp->max_num_offsets > 0) {
                rp->old_style_offsets = &rp->offset;
                rp->old_style_offset_count = 1;
            }
        }
    }
    sm_resp_begin(req);
    sm_list_offsets_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}
