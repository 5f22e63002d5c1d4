/* error_response.h: the answer to a request for an API that samsa-broker
 * does not implement but whose response layout it knows: the response with
 * every field at its zero value (empty arrays, null strings) and the error
 * code in its top-level ErrorCode, so that a client that sends it without
 * consulting ApiVersions gets an error it can read instead of a closed
 * connection (which would also fail every other request in flight on it).
 *
 * A layout is a string of field codes, in the order of the API's
 * *Response.json for that version:
 *   T  ThrottleTimeMs (int32, 0)     E  ErrorCode (int16, the error)
 *   M  ErrorMessage (nullable string: the message, or null)
 *   A  an empty array                N  a null array
 *   B  empty bytes                   L  an int64 0
 * In a flexible version (fx) strings, bytes and arrays take their compact
 * forms and the body ends with an empty tagged-field section. Only layouts
 * whose first error field answers the whole request belong here (the
 * per-item answers of, say, AddPartitionsToTxn do not). */
#ifndef SM_PROTO_ERROR_RESPONSE_H
#define SM_PROTO_ERROR_RESPONSE_H

#include <stdbool.h>

#include "proto/header.h"

void sm_error_resp_encode(sm_wbuf *w, const char *layout, bool fx, int16_t error_code,
                          sm_str message);

#endif
