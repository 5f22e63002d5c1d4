/* header.h: request and response headers, and the conventions every API
 * codec in src/proto follows.
 *
 * We speak only non-flexible versions (request header v1, response header
 * v0), which every client we target negotiates down to. A request frame is
 *   Size int32 | ApiKey int16 | ApiVersion int16 | CorrelationId int32 |
 *   ClientId NULLABLE_STRING | body...
 * and a response frame is Size int32 | CorrelationId int32 | body...
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
} sm_req_hdr;

/* Decodes a request header v1 from the start of a frame (after Size). */
int sm_req_hdr_decode(sm_rd *r, sm_req_hdr *h);

#endif
