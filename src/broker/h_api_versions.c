/* h_api_versions.c: ApiVersions: the versions of every API in the table
 * (api.c), as they are. A v3+ request names the client's software
 * (KIP-511); it is kept on the connection for its log lines. */
#include <stdio.h>

#include "base/err.h"
#include "base/log.h"
#include "broker/api.h"
#include "broker/conn.h"
#include "proto/api_versions.h"
#include "proto/kafka.h"

static void copy_str(char *dst, size_t cap, sm_str s)
{
    int n = s.len > 0 ? s.len : 0;
    if ((size_t)n >= cap)
        n = (int)cap - 1;
    snprintf(dst, cap, "%.*s", n, n ? s.p : "");
}

void sm_handle_api_versions(sm_req *req)
{
    int n;
    const sm_api_def *apis = sm_api_list(&n);
    sm_api_range ranges[SM_API_MAX_DEFS];
    for (int i = 0; i < n; i++)
        ranges[i] = (sm_api_range){apis[i].key, apis[i].min_version, apis[i].max_version};
    const sm_api_def *self = sm_api_find(SM_API_API_VERSIONS);
    int16_t v = req->hdr.api_version;
    if (v > self->max_version) {
        /* KIP-511, as Kafka: the v0 shape, listing ApiVersions' own range;
         * the client retries at our max */
        sm_api_range own = {self->key, self->min_version, self->max_version};
        sm_resp_begin(req);
        sm_api_versions_resp_encode(&req->w, 0, SM_KERR_UNSUPPORTED_VERSION, &own, 1);
        sm_req_complete(req);
        return;
    }
    sm_api_versions_req q;
    if (sm_api_versions_req_decode(&req->body, v, &req->arena, &q) != SM_OK) {
        sm_req_fail_connection(req, "malformed ApiVersions request");
        return;
    }
    sm_resp_begin(req);
    if (!sm_api_versions_req_valid(v, &q)) {
        /* Kafka: INVALID_REQUEST, no ApiKeys */
        sm_api_versions_resp_encode(&req->w, v, SM_KERR_INVALID_REQUEST, NULL, 0);
        sm_req_complete(req);
        return;
    }
    if (req->conn && v >= SM_API_VERSIONS_FLEX) {
        sm_conn *c = req->conn;
        copy_str(c->software_name, sizeof c->software_name, q.client_software_name);
        copy_str(c->software_version, sizeof c->software_version, q.client_software_version);
        sm_debug("connection %llu (%s): client id '%.*s', software %s %s",
                 (unsigned long long)c->id, c->peer,
                 req->hdr.client_id.len > 0 ? (int)req->hdr.client_id.len : 0,
                 req->hdr.client_id.len > 0 ? req->hdr.client_id.p : "", c->software_name,
                 c->software_version);
    }
    sm_api_versions_resp_encode(&req->w, v, SM_KERR_NONE, ranges, n);
    sm_req_complete(req);
}
