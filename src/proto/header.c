/* header.c: request headers v1 and v2, response headers v0 and v1. */
#include "proto/header.h"

#include "base/err.h"
#include "proto/kafka.h"

int sm_req_hdr_decode(sm_rd *r, sm_req_hdr *h)
{
    h->api_key = sm_rd_i16(r);
    h->api_version = sm_rd_i16(r);
    h->correlation_id = sm_rd_i32(r);
    h->client_id = sm_rd_str(r); /* never compact, even in v2 */
    h->header_version = 1;
    if (!r->err && sm_api_flexible(h->api_key, h->api_version)) {
        h->header_version = 2;
        sm_rd_tags_skip(r);
    }
    return r->err ? SM_ECORRUPT : SM_OK;
}

int16_t sm_resp_hdr_version(int16_t api_key, int16_t api_version)
{
    if (api_key == SM_API_API_VERSIONS)
        return 0;
    return sm_api_flexible(api_key, api_version) ? 1 : 0;
}

void sm_resp_hdr_encode(sm_wbuf *w, const sm_req_hdr *h)
{
    sm_wbuf_i32(w, h->correlation_id);
    if (sm_resp_hdr_version(h->api_key, h->api_version) >= 1)
        sm_wbuf_tags_none(w);
}
