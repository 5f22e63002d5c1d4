/* fuzz_request.c: one fuzz target for every request decoder.
 *
 * Input: ApiKey int16 | ApiVersion int16 | body. The body goes to the
 * decoder the broker would use for that key and version. Built two ways:
 * with clang -fsanitize=fuzzer for fuzzing (SAMSA_FUZZ=ON), and as a
 * replay program (replay.c) that runs the committed corpus in ctest. */
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "fuzz_decoders.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    int16_t key = (int16_t)sm_be16(data);
    int16_t version = (int16_t)sm_be16(data + 2);
    sm_arena a;
    sm_arena_init(&a);
    sm_rd r;
    sm_rd_init(&r, data + 4, size - 4);
    (void)sm_fuzz_decode(key, version, &r, &a);
    sm_arena_release(&a);
    return 0;
}
