/* acls.c: DescribeAcls, CreateAcls and DeleteAcls v0-3 (fields per Kafka's
 * DescribeAclsRequest.json / DescribeAclsResponse.json, CreateAcls*.json,
 * DeleteAcls*.json; flexible from v2). */
#include "proto/acls.h"

#include "proto/codec_int.h"

#define ACLS_FIRST_FLEX 2
#define PATTERN_LITERAL 3

static void rd_filter(sm_rd *r, int16_t version, bool flex, sm_acl_filter *f)
{
    f->resource_type_filter = sm_rd_i8(r);
    f->resource_name_filter = sm_codec_rd_nstr_fx(r, flex);
    f->pattern_type_filter = version >= 1 ? sm_rd_i8(r) : PATTERN_LITERAL;
    f->principal_filter = sm_codec_rd_nstr_fx(r, flex);
    f->host_filter = sm_codec_rd_nstr_fx(r, flex);
    f->operation = sm_rd_i8(r);
    f->permission_type = sm_rd_i8(r);
}

int sm_describe_acls_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_describe_acls_req *out)
{
    (void)a;
    bool flex = version >= ACLS_FIRST_FLEX;
    rd_filter(r, version, flex, &out->filter);
    sm_codec_rd_tags(r, flex);
    return sm_codec_finish(r);
}

void sm_describe_acls_resp_encode(sm_wbuf *w, int16_t version, const sm_describe_acls_resp *resp)
{
    bool flex = version >= ACLS_FIRST_FLEX;
    sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_wbuf_i16(w, resp->error_code);
    sm_codec_put_nstr_fx(w, resp->error_message, flex);
    sm_codec_put_count_fx(w, resp->resource_count, flex);
    for (int32_t i = 0; i < resp->resource_count; i++) {
        const sm_describe_acls_resource *res = &resp->resources[i];
        sm_wbuf_i8(w, res->resource_type);
        sm_codec_put_str_fx(w, res->resource_name, flex);
        if (version >= 1)
            sm_wbuf_i8(w, res->pattern_type);
        sm_codec_put_count_fx(w, res->acl_count, flex);
        for (int32_t j = 0; j < res->acl_count; j++) {
            const sm_acl_description *d = &res->acls[j];
            sm_codec_put_str_fx(w, d->principal, flex);
            sm_codec_put_str_fx(w, d->host, flex);
            sm_wbuf_i8(w, d->operation);
            sm_wbuf_i8(w, d->permission_type);
            sm_codec_put_tags(w, flex);
        }
        sm_codec_put_tags(w, flex);
    }
    sm_codec_put_tags(w, flex);
}

int sm_create_acls_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_create_acls_req *out)
{
    bool flex = version >= ACLS_FIRST_FLEX;
    int oom = 0;
    /* creation: ResourceType 1 + ResourceName 2 + Principal 2 + Host 2 +
     * Operation 1 + PermissionType 1 (compact strings: 1 each) */
    out->creation_count = sm_codec_rd_array_fx(r, flex ? 6 : 9, false, flex);
    out->creations = sm_codec_alloc(a, out->creation_count, sizeof *out->creations, &oom);
    for (int32_t i = 0; i < out->creation_count && !r->err && !oom; i++) {
        sm_acl_creation *c = &out->creations[i];
        c->resource_type = sm_rd_i8(r);
        c->resource_name = sm_codec_rd_str_fx(r, flex);
        c->resource_pattern_type = version >= 1 ? sm_rd_i8(r) : PATTERN_LITERAL;
        c->principal = sm_codec_rd_str_fx(r, flex);
        c->host = sm_codec_rd_str_fx(r, flex);
        c->operation = sm_rd_i8(r);
        c->permission_type = sm_rd_i8(r);
        sm_codec_rd_tags(r, flex);
    }
    sm_codec_rd_tags(r, flex);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_create_acls_resp_encode(sm_wbuf *w, int16_t version, const sm_create_acls_resp *resp)
{
    bool flex = version >= ACLS_FIRST_FLEX;
    sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_count_fx(w, resp->result_count, flex);
    for (int32_t i = 0; i < resp->result_count; i++) {
        sm_wbuf_i16(w, resp->results[i].error_code);
        sm_codec_put_nstr_fx(w, resp->results[i].error_message, flex);
        sm_codec_put_tags(w, flex);
    }
    sm_codec_put_tags(w, flex);
}

int sm_delete_acls_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_delete_acls_req *out)
{
    bool flex = version >= ACLS_FIRST_FLEX;
    int oom = 0;
    /* filter: ResourceTypeFilter 1 + three nullable strings 2 each +
     * Operation 1 + PermissionType 1 (compact: 1 each) */
    out->filter_count = sm_codec_rd_array_fx(r, flex ? 6 : 9, false, flex);
    out->filters = sm_codec_alloc(a, out->filter_count, sizeof *out->filters, &oom);
    for (int32_t i = 0; i < out->filter_count && !r->err && !oom; i++) {
        rd_filter(r, version, flex, &out->filters[i]);
        sm_codec_rd_tags(r, flex);
    }
    sm_codec_rd_tags(r, flex);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_delete_acls_resp_encode(sm_wbuf *w, int16_t version, const sm_delete_acls_resp *resp)
{
    bool flex = version >= ACLS_FIRST_FLEX;
    sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_count_fx(w, resp->filter_result_count, flex);
    for (int32_t i = 0; i < resp->filter_result_count; i++) {
        const sm_delete_acls_filter_result *fr = &resp->filter_results[i];
        sm_wbuf_i16(w, fr->error_code);
        sm_codec_put_nstr_fx(w, fr->error_message, flex);
        sm_codec_put_count_fx(w, fr->matching_acl_count, flex);
        for (int32_t j = 0; j < fr->matching_acl_count; j++) {
            const sm_delete_acls_matching_acl *m = &fr->matching_acls[j];
            sm_wbuf_i16(w, m->error_code);
            sm_codec_put_nstr_fx(w, m->error_message, flex);
            sm_wbuf_i8(w, m->resource_type);
            sm_codec_put_str_fx(w, m->resource_name, flex);
            if (version >= 1)
                sm_wbuf_i8(w, m->pattern_type);
            sm_codec_put_str_fx(w, m->principal, flex);
            sm_codec_put_str_fx(w, m->host, flex);
            sm_wbuf_i8(w, m->operation);
            sm_wbuf_i8(w, m->permission_type);
            sm_codec_put_tags(w, flex);
        }
        sm_codec_put_tags(w, flex);
    }
    sm_codec_put_tags(w, flex);
}
