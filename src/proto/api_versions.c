/* api_versions.c: ApiVersions codec, versions 0-2. */
#include "proto/api_versions.h"

#include "base/err.h"
#include "proto/codec_int.h"

int sm_api_versions_req_decode(sm_rd *r, int16_t version, sm_arena *a)
{
    (void)version;
    (void)a;
    return sm_codec_finish(r);
}

void sm_api_versions_resp_encode(sm_wbuf *w, int16_t version, int16_t error_code,
                                 const sm_api_range *apis, int32_t api_count)
{
    sm_wbuf_i16(w, error_code);
    sm_wbuf_i32(w, api_count);
    for (int32_t i = 0; i < api_count; i++) {
        sm_wbuf_i16(w, apis[i].api_key);
        sm_wbuf_i16(w, apis[i].min_version);
        sm_wbuf_i16(w, apis[i].max_version);
    }
    if (version >= 1)
        sm_wbuf_i32(w, 0); /* ThrottleTimeMs */
}
