/* api_versions.h: ApiVersions (key 18), versions 0-4.
 *
 * v0-2 have an empty request. v3 is the first flexible version (KIP-511,
 * KIP-482): the request carries ClientSoftwareName and ClientSoftwareVersion
 * (COMPACT_STRING), the response's ApiKeys is a compact array and every
 * struct ends with tagged fields (SupportedFeatures, FinalizedFeaturesEpoch,
 * FinalizedFeatures, ZkMigrationReady are all tagged: we have none and send
 * none). v4 is v3 with SupportedFeatures allowed a MinVersion of 0
 * (KAFKA-17011); as we list no features, it is v3. The response header is
 * always v0 (header.h).
 *
 * A client asking with a newer version than we speak (Java clients start
 * with their newest) gets UNSUPPORTED_VERSION in the v0 shape, listing only
 * ApiVersions' own range as Kafka does, and retries at a version in it. */
#ifndef SM_PROTO_API_VERSIONS_H
#define SM_PROTO_API_VERSIONS_H

#include <stdbool.h>

#include "proto/header.h"

#define SM_API_VERSIONS_FLEX 3 /* first flexible version */

typedef struct sm_api_versions_req {
    sm_str client_software_name;    /* v3+; null before */
    sm_str client_software_version; /* v3+; null before */
} sm_api_versions_req;

int sm_api_versions_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_api_versions_req *out);

/* Kafka's rule for a v3+ request (ApiVersionsRequest.isValid): name and
 * version each match [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? ; a request
 * that does not is answered INVALID_REQUEST. True before v3. */
bool sm_api_versions_req_valid(int16_t version, const sm_api_versions_req *req);

typedef struct sm_api_range {
    int16_t api_key;
    int16_t min_version;
    int16_t max_version;
} sm_api_range;

/* Appends the body for version (0 for the answer to a version we don't
 * speak). */
void sm_api_versions_resp_encode(sm_wbuf *w, int16_t version, int16_t error_code,
                                 const sm_api_range *apis, int32_t api_count);

#endif
