/* api_versions.h: ApiVersions (key 18), versions 0-2.
 *
 * A client asking with a newer version than we speak (librdkafka starts
 * with v3) gets UNSUPPORTED_VERSION in the v0 shape with our version list,
 * and retries at a version we advertise. */
#ifndef SM_PROTO_API_VERSIONS_H
#define SM_PROTO_API_VERSIONS_H

#include "proto/header.h"

typedef struct sm_api_range {
    int16_t api_key;
    int16_t min_version;
    int16_t max_version;
} sm_api_range;

/* The request body of v0-2 is empty. */
int sm_api_versions_req_decode(sm_rd *r, int16_t version, sm_arena *a);

/* version < 0 encodes the v0 shape (used to answer versions we don't speak). */
void sm_api_versions_resp_encode(sm_wbuf *w, int16_t version, int16_t error_code,
                                 const sm_api_range *apis, int32_t api_count);

#endif
