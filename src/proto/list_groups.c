/* list_groups.c: ListGroups v0-2 (fields per Kafka's ListGroupsRequest.json
 * / ListGroupsResponse.json). */
#include "proto/list_groups.h"

#include "proto/codec_int.h"

int sm_list_groups_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_list_groups_req *out)
{
    (void)version;
    (void)a;
    out->unused = 0;
    return sm_codec_finish(r); /* any byte at all is trailing */
}

void sm_list_groups_resp_encode(sm_wbuf *w, int16_t version, const sm_list_groups_resp *resp)
{
    if (version >= 1)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_wbuf_i16(w, resp->error_code);
    sm_codec_put_count(w, resp->group_count);
    for (int32_t i = 0; i < resp->group_count; i++) {
        sm_codec_put_str(w, resp->groups[i].group_id);
        sm_codec_put_str(w, resp->groups[i].protocol_type);
    }
}
