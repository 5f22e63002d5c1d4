/* api_versions.c: ApiVersions codec, versions 0-4 (fields per Kafka's
 * ApiVersionsRequest.json / ApiVersionsResponse.json). */
#include "proto/api_versions.h"

#include "base/err.h"
#include "proto/codec_int.h"

int sm_api_versions_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_api_versions_req *out)
{
    (void)a;
    bool fx = version >= SM_API_VERSIONS_FLEX;
    out->client_software_name = SM_STR_NULL;
    out->client_software_version = SM_STR_NULL;
    if (fx) {
        out->client_software_name = sm_codec_rd_str_fx(r, fx);
        out->client_software_version = sm_codec_rd_str_fx(r, fx);
    }
    sm_codec_rd_tags(r, fx);
    return sm_codec_finish(r);
}

static bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? */
static bool software_ok(sm_str s)
{
    if (s.len <= 0 || !alnum(s.p[0]) || !alnum(s.p[s.len - 1]))
        return false;
    for (int32_t i = 1; i < s.len - 1; i++)
        if (!alnum(s.p[i]) && s.p[i] != '-' && s.p[i] != '.')
            return false;
    return true;
}

bool sm_api_versions_req_valid(int16_t version, const sm_api_versions_req *req)
{
    if (version < SM_API_VERSIONS_FLEX)
        return true;
    return software_ok(req->client_software_name) && software_ok(req->client_software_version);
}

void sm_api_versions_resp_encode(sm_wbuf *w, int16_t version, int16_t error_code,
                                 const sm_api_range *apis, int32_t api_count)
{
    bool fx = version >= SM_API_VERSIONS_FLEX;
    sm_wbuf_i16(w, error_code);
    sm_codec_put_count_fx(w, api_count, fx);
    for (int32_t i = 0; i < api_count; i++) {
        sm_wbuf_i16(w, apis[i].api_key);
        sm_wbuf_i16(w, apis[i].min_version);
        sm_wbuf_i16(w, apis[i].max_version);
        sm_codec_put_tags(w, fx);
    }
    if (version >= 1)
        sm_wbuf_i32(w, 0); /* ThrottleTimeMs */
    sm_codec_put_tags(w, fx);
}
