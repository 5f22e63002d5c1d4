/* header.h: request and response headers, and the conventions every API
 * codec in src/proto follows.
 *
 * A request frame is
 *   Size int32 | ApiKey int16 | ApiVersion int16 | CorrelationId int32 |
 *   ClientId NULLABLE_STRING | [TaggedFields] | body...
 * with the tagged-field section (request header v2) exactly when the API's
 * version is flexible (KIP-482; sm_api_flexible, kafka.h); ClientId keeps
 * its int16 length even then, so that any broker can read the header of any
 * ApiVersions request. A response frame is
 *   Size int32 | CorrelationId int32 | [TaggedFields] | body...
 * with the tagged fields (response header v1) when the version is flexible,
 * except for ApiVersions, whose responses always use header v0 (a client
 * that does not yet know our versions must be able to read the answer).
 *
 * Codec conventions (one pair of files per API, proto/<api>.{h,c}):
 *   int  sm_<api>_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_<api>_req *out);
 *        Decodes a request body. Strings point into the frame (zero-copy);
 *        arrays are allocated from the arena (request lifetime). Every count
 *        is capped by the bytes left (sm_rd_array). Returns SM_OK, or
 *        SM_ECORRUPT when the body is short, long or malformed (trailing
 *        bytes are an error too).
 *   void sm_<api>_resp_encode(sm_wbuf *w, int16_t version, const sm_<api>_resp *resp);
 *        Appends a response body (no header) for that version.
 * In a flexible version strings, bytes and arrays take their compact forms
 * and every struct ends with a tagged-field section; unknown tags are
 * skipped on reading, and none are written unless a field is tagged in the
 * message definition (codec_int.h's *_fx helpers).
 * Field names follow Kafka's JSON message definitions in snake_case. */
#ifndef SM_PROTO_HEADER_H
#define SM_PROTO_HEADER_H

#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"

typedef struct sm_req_hdr {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    sm_str client_id;
    int16_t header_version; /* 1, or 2 (flexible: ClientId then tagged fields) */
} sm_req_hdr;

/* Decodes a request header from the start of a frame (after Size): v2 when
 * (ApiKey, ApiVersion) is flexible, else v1. Unknown tags are skipped; a
 * truncated or malformed header is SM_ECORRUPT. */
int sm_req_hdr_decode(sm_rd *r, sm_req_hdr *h);

/* The response header version for a request: 1 when flexible, else 0; 0
 * for ApiVersions always. */
int16_t sm_resp_hdr_version(int16_t api_key, int16_t api_version);

/* Appends a response header (CorrelationId, then an empty tagged-field
 * section in v1) for the request h. */
void sm_resp_hdr_encode(sm_wbuf *w, const sm_req_hdr *h);

#endif
