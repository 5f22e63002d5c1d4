/* fuzz_decoders.h: routes (ApiKey, ApiVersion, body) to the request decoder
 * for that API, as the broker does. Returns the decoder's result, or -1 for
 * a key/version no decoder takes. */
#ifndef SM_FUZZ_DECODERS_H
#define SM_FUZZ_DECODERS_H

#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"

/* Pseudo keys, for the primitives under every flexible decoder: a request
 * header v2 (the body follows a flexible ApiKey/ApiVersion), and a stream
 * of compact strings, bytes, arrays and tagged-field sections. */
#define SM_FUZZ_KEY_HEADER_V2 (-2)
#define SM_FUZZ_KEY_COMPACT (-3)

int sm_fuzz_decode(int16_t key, int16_t version, sm_rd *r, sm_arena *a);
/* The (key, min, max) triples covered, for seeding. */
typedef struct sm_fuzz_api {
    int16_t key, min, max;
} sm_fuzz_api;
const sm_fuzz_api *sm_fuzz_apis(int *n);

#endif
