/* h_cluster.c: the describe side of the cluster that admin tools read:
 * DescribeCluster (this broker, also the controller), DescribeLogDirs (each
 * log dir with its partitions' real sizes, and the file system's total and
 * usable bytes), ListPartitionReassignments (a single node never has one
 * under way). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "base/err.h"
#include "broker/api.h"
#include "broker/broker.h"
#include "broker/conn.h"
#include "broker/partition.h"
#include "broker/topics.h"
#include "proto/describe_cluster.h"
#include "proto/describe_log_dirs.h"
#include "proto/kafka.h"
#include "proto/list_partition_reassignments.h"
#include "storage/log.h"

/* ---- DescribeCluster ------------------------------------------------------------------ */

/* Kafka's AclOperation codes a broker without an authorizer grants on the
 * CLUSTER resource (AclEntry.supportedOperations): CREATE 5, ALTER 7,
 * DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11,
 * IDEMPOTENT_WRITE 12. */
#define CLUSTER_OPERATIONS                                                                         \
    ((1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12))
#define KERR_MISMATCHED_ENDPOINT_TYPE 114
#define KERR_UNSUPPORTED_ENDPOINT_TYPE 115

void sm_handle_describe_cluster(sm_req *req)
{
    sm_broker *b = req->b;
    int16_t v = req->hdr.api_version;
    sm_describe_cluster_req dr;
    if (sm_describe_cluster_req_decode(&req->body, v, &req->arena, &dr) != SM_OK) {
        sm_req_fail_connection(req, "malformed DescribeCluster request");
        return;
    }
    sm_describe_cluster_resp resp = {0};
    resp.error_message = SM_STR_NULL;
    resp.endpoint_type = SM_ENDPOINT_TYPE_BROKER;
    resp.cluster_id = SM_STR_LIT("");
    resp.controller_id = -1;
    resp.cluster_authorized_operations = SM_AUTHORIZED_OPERATIONS_OMITTED;
    /* the one broker is never fenced, so IncludeFencedBrokers (v2) changes nothing */
    sm_describe_cluster_broker self = {b->cfg.node_id, sm_str_c(b->adv_host), b->adv_port,
                                       SM_STR_NULL, false};
    /* as Kafka's AuthHelper.computeDescribeClusterResponse answers */
    if (dr.endpoint_type != SM_ENDPOINT_TYPE_BROKER &&
        dr.endpoint_type != SM_ENDPOINT_TYPE_CONTROLLER) {
        resp.error_code = v == 0 ? SM_KERR_INVALID_REQUEST : KERR_UNSUPPORTED_ENDPOINT_TYPE;
        char msg[64];
        snprintf(msg, sizeof msg, "Unsupported endpoint type %d", dr.endpoint_type);
        resp.error_message = sm_req_str(req, msg);
    } else if (dr.endpoint_type != SM_ENDPOINT_TYPE_BROKER) {
        resp.error_code = v == 0 ? SM_KERR_INVALID_REQUEST : KERR_MISMATCHED_ENDPOINT_TYPE;
        resp.error_message = SM_STR_LIT("The request was sent to an endpoint of type BROKER, "
                                        "but we wanted an endpoint of type CONTROLLER");
    } else {
        resp.cluster_id = sm_str_c(b->cluster_id);
        resp.controller_id = b->cfg.node_id; /* as in Metadata */
        resp.broker_count = 1;
        resp.brokers = &self;
        if (dr.include_cluster_authorized_operations)
            resp.cluster_authorized_operations = CLUSTER_OPERATIONS;
    }
    sm_resp_begin(req);
    sm_describe_cluster_resp_encode(&req->w, v, &resp);
    sm_req_complete(req);
}

/* ---- DescribeLogDirs ------------------------------------------------------------------ */

/* The log dir (index into cfg.log_dirs) that holds partition directory
 * pdir ("<log dir>/<topic>-<n>"), or -1. */
static int log_dir_of(const sm_broker *b, const char *pdir)
{
    for (int d = 0; d < b->cfg.n_log_dirs; d++) {
        size_t n = strlen(b->cfg.log_dirs[d]);
        if (strncmp(pdir, b->cfg.log_dirs[d], n) == 0 && pdir[n] == '/' &&
            !strchr(pdir + n + 1, '/'))
            return d;
    }
    return -1;
}

static bool partition_wanted(const sm_dld_req *dr, const sm_topic *t, int32_t index)
{
    if (dr->topic_count < 0)
        return true;
    for (int32_t i = 0; i < dr->topic_count; i++) {
        const sm_dld_topic_req *q = &dr->topics[i];
        if (!sm_str_eqc(q->topic, t->name))
            continue;
        for (int32_t j = 0; j < q->partition_count; j++)
            if (q->partitions[j] == index)
                return true;
    }
    return false;
}

/* One log dir's answer: its topics and their wanted partitions. */
static int fill_log_dir(sm_req *req, const sm_dld_req *dr, int d, sm_dld_result *out)
{
    sm_broker *b = req->b;
    const char *dir = b->cfg.log_dirs[d];
    char abs[PATH_MAX];
    out->log_dir = sm_req_str(req, realpath(dir, abs) ? abs : dir);
    struct statvfs sv;
    if (statvfs(dir, &sv) == 0) {
        out->total_bytes = (int64_t)sv.f_blocks * (int64_t)sv.f_frsize;
        out->usable_bytes = (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
    } else {
        /* Kafka reports a dir it cannot use as offline, with no topics */
        out->error_code = SM_KERR_KAFKA_STORAGE_ERROR;
        out->total_bytes = out->usable_bytes = -1;
        return SM_OK;
    }
    out->topics = sm_arena_calloc(&req->arena, b->topics.len + 1, sizeof *out->topics);
    if (!out->topics)
        return SM_ENOMEM;
    const char *k;
    void *v;
    for (size_t it = 0; sm_map_next(&b->topics, &it, &k, &v);) {
        sm_topic *t = v;
        sm_dld_topic *ot = &out->topics[out->topic_count];
        for (int32_t i = 0; i < t->npart; i++) {
            sm_partition *p = t->parts[i];
            if (!p || !p->log || log_dir_of(b, sm_plog_dir(p->log)) != d ||
                !partition_wanted(dr, t, i))
                continue;
            if (!ot->partitions) {
                ot->partitions = sm_arena_calloc(&req->arena, (size_t)t->npart, sizeof *ot->partitions);
                if (!ot->partitions)
                    return SM_ENOMEM;
            }
            sm_dld_partition *op = &ot->partitions[ot->partition_count++];
            op->partition_index = i;
            op->partition_size = sm_plog_size(p->log);
            /* the lag of the log end behind the high watermark: a single
             * node's high watermark is its log end */
            op->offset_lag = 0;
            op->is_future_key = false;
        }
        if (ot->partition_count) {
            ot->name = sm_str_c(t->name);
            out->topic_count++;
        }
    }
    return SM_OK;
}

void sm_handle_describe_log_dirs(sm_req *req)
{
    sm_broker *b = req->b;
    sm_dld_req dr;
    if (sm_dld_req_decode(&req->body, req->hdr.api_version, &req->arena, &dr) != SM_OK) {
        sm_req_fail_connection(req, "malformed DescribeLogDirs request");
        return;
    }
    sm_dld_resp resp = {0};
    resp.result_count = b->cfg.n_log_dirs;
    resp.results = sm_arena_calloc(&req->arena, (size_t)b->cfg.n_log_dirs + 1, sizeof *resp.results);
    if (!resp.results) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    for (int d = 0; d < b->cfg.n_log_dirs; d++) {
        if (fill_log_dir(req, &dr, d, &resp.results[d]) != SM_OK) {
            sm_req_fail_connection(req, "out of memory");
            return;
        }
    }
    sm_resp_begin(req);
    sm_dld_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}

/* ---- ListPartitionReassignments ------------------------------------------------------- */

void sm_handle_list_partition_reassignments(sm_req *req)
{
    sm_lpr_req lr;
    if (sm_lpr_req_decode(&req->body, req->hdr.api_version, &req->arena, &lr) != SM_OK) {
        sm_req_fail_connection(req, "malformed ListPartitionReassignments request");
        return;
    }
    /* a single node never moves a replica: nothing is ever under way, for
     * any topic named or not (Kafka's controller, too, lists only ongoing
     * reassignments and ignores partitions that have none) */
    sm_lpr_resp resp = {0};
    resp.error_message = SM_STR_NULL;
    sm_resp_begin(req);
    sm_lpr_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}
