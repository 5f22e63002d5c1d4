/* acls.h: the ACL APIs: DescribeAcls (key 29), CreateAcls (30) and
 * DeleteAcls (31), versions 0-3 each.
 *
 * v1 adds the resource pattern type (PatternTypeFilter in the filters,
 * ResourcePatternType in a creation, PatternType in the answers); v2 is the
 * first flexible version; v3 adds the USER resource type (no new field).
 * samsa-broker has no authorizer, so its handlers answer every request with
 * SECURITY_DISABLED, as Kafka does without authorizer.class.name; the
 * decoders still read every field, so a malformed request is refused.
 * Conventions: see header.h. */
#ifndef SM_PROTO_ACLS_H
#define SM_PROTO_ACLS_H

#include "proto/header.h"

/* An ACL binding filter (DescribeAcls' request, one of DeleteAcls' filters). */
typedef struct sm_acl_filter {
    int8_t resource_type_filter;
    sm_str resource_name_filter; /* nullable */
    int8_t pattern_type_filter;  /* v1+; 3 (LITERAL) before */
    sm_str principal_filter;     /* nullable */
    sm_str host_filter;          /* nullable */
    int8_t operation;
    int8_t permission_type;
} sm_acl_filter;

/* ---- DescribeAcls ---------------------------------------------------------- */

typedef struct sm_describe_acls_req {
    sm_acl_filter filter;
} sm_describe_acls_req;

int sm_describe_acls_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_describe_acls_req *out);

typedef struct sm_acl_description {
    sm_str principal;
    sm_str host;
    int8_t operation;
    int8_t permission_type;
} sm_acl_description;

typedef struct sm_describe_acls_resource {
    int8_t resource_type;
    sm_str resource_name;
    int8_t pattern_type; /* v1+ */
    int32_t acl_count;
    sm_acl_description *acls;
} sm_describe_acls_resource;

typedef struct sm_describe_acls_resp {
    int32_t throttle_time_ms;
    int16_t error_code;
    sm_str error_message; /* nullable */
    int32_t resource_count;
    sm_describe_acls_resource *resources;
} sm_describe_acls_resp;

void sm_describe_acls_resp_encode(sm_wbuf *w, int16_t version, const sm_describe_acls_resp *resp);

/* ---- CreateAcls ------------------------------------------------------------ */

typedef struct sm_acl_creation {
    int8_t resource_type;
    sm_str resource_name;
    int8_t resource_pattern_type; /* v1+; 3 (LITERAL) before */
    sm_str principal;
    sm_str host;
    int8_t operation;
    int8_t permission_type;
} sm_acl_creation;

typedef struct sm_create_acls_req {
    int32_t creation_count;
    sm_acl_creation *creations;
} sm_create_acls_req;

int sm_create_acls_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_create_acls_req *out);

typedef struct sm_acl_creation_result {
    int16_t error_code;
    sm_str error_message; /* nullable */
} sm_acl_creation_result;

typedef struct sm_create_acls_resp {
    int32_t throttle_time_ms;
    int32_t result_count;
    sm_acl_creation_result *results;
} sm_create_acls_resp;

void sm_create_acls_resp_encode(sm_wbuf *w, int16_t version, const sm_create_acls_resp *resp);

/* ---- DeleteAcls ------------------------------------------------------------ */

typedef struct sm_delete_acls_req {
    int32_t filter_count;
    sm_acl_filter *filters;
} sm_delete_acls_req;

int sm_delete_acls_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_delete_acls_req *out);

typedef struct sm_delete_acls_matching_acl {
    int16_t error_code;
    sm_str error_message; /* nullable */
    int8_t resource_type;
    sm_str resource_name;
    int8_t pattern_type; /* v1+ */
    sm_str principal;
    sm_str host;
    int8_t operation;
    int8_t permission_type;
} sm_delete_acls_matching_acl;

typedef struct sm_delete_acls_filter_result {
    int16_t error_code;
    sm_str error_message; /* nullable */
    int32_t matching_acl_count;
    sm_delete_acls_matching_acl *matching_acls;
} sm_delete_acls_filter_result;

typedef struct sm_delete_acls_resp {
    int32_t throttle_time_ms;
    int32_t filter_result_count;
    sm_delete_acls_filter_result *filter_results;
} sm_delete_acls_resp;

void sm_delete_acls_resp_encode(sm_wbuf *w, int16_t version, const sm_delete_acls_resp *resp);

#endif
