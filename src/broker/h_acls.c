/* h_acls.c: DescribeAcls, CreateAcls and DeleteAcls. samsa-broker has no
 * authorizer (start-up refuses authorizer.class.name), so each answers as a
 * Kafka broker without one does (AclApis): DescribeAcls with a top-level
 * SECURITY_DISABLED and no resources, CreateAcls one SECURITY_DISABLED
 * result per creation, DeleteAcls one per filter with no matching ACLs. The
 * request is decoded all the same: a malformed one closes the connection. */
#include "base/err.h"
#include "broker/api.h"
#include "broker/conn.h"
#include "proto/acls.h"
#include "proto/kafka.h"

/* Kafka's messages (AclApis.scala). */
#define DESCRIBE_MSG "No Authorizer is configured on the broker"
#define ALTER_MSG "No Authorizer is configured."

void sm_handle_describe_acls(sm_req *req)
{
    sm_describe_acls_req dr;
    if (sm_describe_acls_req_decode(&req->body, req->hdr.api_version, &req->arena, &dr) != SM_OK) {
        sm_req_fail_connection(req, "malformed DescribeAcls request");
        return;
    }
    sm_describe_acls_resp resp = {0};
    resp.error_code = SM_KERR_SECURITY_DISABLED;
    resp.error_message = SM_STR_LIT(DESCRIBE_MSG);
    sm_resp_begin(req);
    sm_describe_acls_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}

void sm_handle_create_acls(sm_req *req)
{
    sm_create_acls_req cr;
    if (sm_create_acls_req_decode(&req->body, req->hdr.api_version, &req->arena, &cr) != SM_OK) {
        sm_req_fail_connection(req, "malformed CreateAcls request");
        return;
    }
    sm_create_acls_resp resp = {0};
    resp.result_count = cr.creation_count;
    resp.results = sm_arena_calloc(&req->arena, (size_t)cr.creation_count + 1, sizeof *resp.results);
    if (!resp.results) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < cr.creation_count; i++) {
        resp.results[i].error_code = SM_KERR_SECURITY_DISABLED;
        resp.results[i].error_message = SM_STR_LIT(ALTER_MSG);
    }
    sm_resp_begin(req);
    sm_create_acls_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}

void sm_handle_delete_acls(sm_req *req)
{
    sm_delete_acls_req dr;
    if (sm_delete_acls_req_decode(&req->body, req->hdr.api_version, &req->arena, &dr) != SM_OK) {
        sm_req_fail_connection(req, "malformed DeleteAcls request");
        return;
    }
    sm_delete_acls_resp resp = {0};
    resp.filter_result_count = dr.filter_count;
    resp.filter_results =
        sm_arena_calloc(&req->arena, (size_t)dr.filter_count + 1, sizeof *resp.filter_results);
    if (!resp.filter_results) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < dr.filter_count; i++) {
        resp.filter_results[i].error_code = SM_KERR_SECURITY_DISABLED;
        resp.filter_results[i].error_message = SM_STR_LIT(ALTER_MSG);
    }
    sm_resp_begin(req);
    sm_delete_acls_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}
