/* describe_cluster.c: DescribeCluster v0-2 (fields per Kafka's
 * DescribeClusterRequest.json / DescribeClusterResponse.json; every
 * version flexible). */
#include "proto/describe_cluster.h"

#include "proto/codec_int.h"

int sm_describe_cluster_req_decode(sm_rd *r, int16_t version, sm_arena *a,
                                   sm_describe_cluster_req *out)
{
    (void)a;
    out->include_cluster_authorized_operations = sm_rd_bool(r);
    out->endpoint_type = version >= 1 ? sm_rd_i8(r) : SM_ENDPOINT_TYPE_BROKER;
    out->include_fenced_brokers = version >= 2 ? sm_rd_bool(r) : false;
    sm_codec_rd_tags(r, true);
    return sm_codec_finish(r);
}

void sm_describe_cluster_resp_encode(sm_wbuf *w, int16_t version,
                                     const sm_describe_cluster_resp *resp)
{
    sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_wbuf_i16(w, resp->error_code);
    sm_codec_put_nstr_fx(w, resp->error_message, true);
    if (version >= 1)
        sm_wbuf_i8(w, resp->endpoint_type);
    sm_codec_put_str_fx(w, resp->cluster_id, true);
    sm_wbuf_i32(w, resp->controller_id);
    sm_codec_put_count_fx(w, resp->broker_count, true);
    for (int32_t i = 0; i < resp->broker_count; i++) {
        const sm_describe_cluster_broker *br = &resp->brokers[i];
        sm_wbuf_i32(w, br->broker_id);
        sm_codec_put_str_fx(w, br->host, true);
        sm_wbuf_i32(w, br->port);
        sm_codec_put_nstr_fx(w, br->rack, true);
        if (version >= 2)
            sm_wbuf_bool(w, br->is_fenced);
        sm_codec_put_tags(w, true);
    }
    sm_wbuf_i32(w, resp->cluster_authorized_operations);
    sm_codec_put_tags(w, true);
}
