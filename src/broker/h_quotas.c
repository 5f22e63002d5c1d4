/* h_quotas.c: DescribeClientQuotas. samsa-broker keeps no client quotas, so
 * a valid filter matches nothing (an empty list, as Kafka answers when none
 * is set); the filter is checked as Kafka's ClientQuotasImage.describe
 * checks it, each refusal a top-level error with Kafka's message and null
 * entries. */
#include <stdio.h>

#include "base/err.h"
#include "broker/api.h"
#include "broker/conn.h"
#include "proto/describe_client_quotas.h"
#include "proto/kafka.h"

/* The filter's error (SM_KERR_NONE if valid), with msg set. */
static int16_t check_filter(const sm_dcq_req *q, char *msg, size_t len)
{
    bool ip = false, user_or_client = false;
    for (int32_t i = 0; i < q->component_count; i++) {
        const sm_dcq_component *c = &q->components[i];
        if (c->entity_type.len <= 0) {
            snprintf(msg, len, "Invalid empty entity type.");
            return SM_KERR_INVALID_REQUEST;
        }
        for (int32_t k = 0; k < i; k++)
            if (sm_str_eq(q->components[k].entity_type, c->entity_type)) {
                snprintf(msg, len, "Entity type %.*s cannot appear more than once in the filter.",
                         (int)c->entity_type.len, c->entity_type.p);
                return SM_KERR_INVALID_REQUEST;
            }
        bool is_ip = sm_str_eqc(c->entity_type, "ip");
        if (!is_ip && !sm_str_eqc(c->entity_type, "user") &&
            !sm_str_eqc(c->entity_type, "client-id")) {
            snprintf(msg, len, "Unsupported entity type %.*s", (int)c->entity_type.len,
                     c->entity_type.p);
            return SM_KERR_UNSUPPORTED_VERSION;
        }
        bool has_match = c->match.len >= 0;
        if (c->match_type == SM_QUOTA_MATCH_EXACT && !has_match) {
            snprintf(msg, len, "Request specified MATCH_TYPE_EXACT, but set match string to null.");
            return SM_KERR_INVALID_REQUEST;
        }
        if (c->match_type == SM_QUOTA_MATCH_DEFAULT && has_match) {
            snprintf(msg, len, "Request specified MATCH_TYPE_DEFAULT, but also specified a match "
                               "string.");
            return SM_KERR_INVALID_REQUEST;
        }
        if (c->match_type == SM_QUOTA_MATCH_SPECIFIED && has_match) {
            snprintf(msg, len, "Request specified MATCH_TYPE_SPECIFIED, but also specified a match "
                               "string.");
            return SM_KERR_INVALID_REQUEST;
        }
        if (c->match_type < SM_QUOTA_MATCH_EXACT || c->match_type > SM_QUOTA_MATCH_SPECIFIED) {
            snprintf(msg, len, "Unknown match type %d", c->match_type);
            return SM_KERR_INVALID_REQUEST;
        }
        if (is_ip)
            ip = true;
        else
            user_or_client = true;
    }
    if (ip && user_or_client) {
        snprintf(msg, len, "Invalid entity filter component combination. IP filter component "
                           "should not be used with user or clientId filter component.");
        return SM_KERR_INVALID_REQUEST;
    }
    return SM_KERR_NONE;
}

void sm_handle_describe_client_quotas(sm_req *req)
{
    sm_dcq_req q;
    if (sm_dcq_req_decode(&req->body, req->hdr.api_version, &req->arena, &q) != SM_OK) {
        sm_req_fail_connection(req, "malformed DescribeClientQuotas request");
        return;
    }
    char msg[256];
    sm_dcq_resp resp = {0};
    resp.error_code = check_filter(&q, msg, sizeof msg);
    resp.error_message = resp.error_code ? sm_req_str(req, msg) : SM_STR_NULL;
    resp.entries_null = resp.error_code != SM_KERR_NONE;
    sm_resp_begin(req);
    sm_dcq_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}
