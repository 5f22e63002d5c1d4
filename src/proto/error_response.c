/* error_response.c: a zero-valued response carrying one error code, from a
 * layout string (error_response.h). */
#include "proto/error_response.h"

#include "proto/codec_int.h"

void sm_error_resp_encode(sm_wbuf *w, const char *layout, bool fx, int16_t error_code,
                          sm_str message)
{
    for (const char *c = layout; *c; c++) {
        switch (*c) {
        case 'T': sm_wbuf_i32(w, 0); break;
        case 'E': sm_wbuf_i16(w, error_code); break;
        case 'M': sm_codec_put_nstr_fx(w, message, fx); break;
        case 'A': sm_codec_put_count_fx(w, 0, fx); break;
        case 'N': sm_codec_put_ncount_fx(w, -1, fx); break;
        case 'B': sm_codec_put_bytes_fx(w, SM_STR_LIT(""), fx); break;
        case 'L': sm_wbuf_i64(w, 0); break;
        default: w->oom = true; break; /* a layout the table got wrong: close, never lie */
        }
    }
    sm_codec_put_tags(w, fx);
}
