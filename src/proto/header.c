/* header.c: request header v1. */
#include "proto/header.h"

#include "base/err.h"

int sm_req_hdr_decode(sm_rd *r, sm_req_hdr *h)
{
    h->api_key = sm_rd_i16(r);
    h->api_version = sm_rd_i16(r);
    h->correlation_id = sm_rd_i32(r);
    h->client_id = sm_rd_str(r);
    return r->err ? SM_ECORRUPT : SM_OK;
}
