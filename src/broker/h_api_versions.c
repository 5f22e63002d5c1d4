/* h_api_versions.c: ApiVersions: the versions of every API in the table
 * (api.c), as they are. */
#include "base/err.h"
#include "broker/api.h"
#include "broker/conn.h"
#include "proto/api_versions.h"
#include "proto/kafka.h"

void sm_handle_api_versions(sm_req *req)
{
    int n;
    const sm_api_def *apis = sm_api_list(&n);
    sm_api_range ranges[SM_API_MAX_DEFS];
    for (int i = 0; i < n; i++)
        ranges[i] = (sm_api_range){apis[i].key, apis[i].min_version, apis[i].max_version};
    const sm_api_def *self = sm_api_find(SM_API_API_VERSIONS);
    sm_resp_begin(req);
    if (req->hdr.api_version > self->max_version) {
        /* KIP-511: answer in the v0 shape; the client retries at our max */
        sm_api_versions_resp_encode(&req->w, 0, SM_KERR_UNSUPPORTED_VERSION, ranges, n);
    } else if (sm_api_versions_req_decode(&req->body, req->hdr.api_version, &req->arena) != SM_OK) {
        sm_req_fail_connection(req, "malformed ApiVersions request");
        return;
    } else {
        sm_api_versions_resp_encode(&req->w, req->hdr.api_version, SM_KERR_NONE, ranges, n);
    }
    sm_req_complete(req);
}
