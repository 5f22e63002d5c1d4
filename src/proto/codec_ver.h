/* codec_ver.h: version-aware field helpers for the codecs that span
 * flexible and non-flexible versions (internal, like codec_int.h): each
 * takes `flex` (the version is at or above the API's first flexible
 * version) and reads or writes the compact form there, the classic one
 * below. */
#ifndef SM_PROTO_CODEC_VER_H
#define SM_PROTO_CODEC_VER_H

#include <stdbool.h>

#include "proto/codec_int.h"

/* STRING: a null fails the reader. */
static inline sm_str sm_cv_rd_str(sm_rd *r, bool flex)
{
    if (flex) {
        sm_rd_fail(r); /* compact forms: not yet */
        return SM_STR_NULL;
    }
    return sm_codec_rd_str(r);
}

/* NULLABLE_STRING. */
static inline sm_str sm_cv_rd_nstr(sm_rd *r, bool flex)
{
    if (flex) {
        sm_rd_fail(r);
        return SM_STR_NULL;
    }
    return sm_rd_str(r);
}

/* An array count, capped by the bytes left (see sm_rd_array). */
static inline int32_t sm_cv_rd_array(sm_rd *r, size_t min_elem, bool nullable, bool flex)
{
    if (flex) {
        sm_rd_fail(r);
        return 0;
    }
    return sm_rd_array(r, min_elem, nullable);
}

/* The tagged fields at the end of a flexible structure (none before). */
static inline void sm_cv_rd_tags(sm_rd *r, bool flex)
{
    if (flex)
        sm_rd_fail(r);
}

static inline void sm_cv_put_str(sm_wbuf *w, sm_str s, bool flex)
{
    if (flex)
        w->oom = true;
    else
        sm_codec_put_str(w, s);
}

static inline void sm_cv_put_nstr(sm_wbuf *w, sm_str s, bool flex)
{
    if (flex)
        w->oom = true;
    else
        sm_codec_put_nstr(w, s);
}

static inline void sm_cv_put_count(sm_wbuf *w, int32_t n, bool flex)
{
    if (flex)
        w->oom = true;
    else
        sm_codec_put_count(w, n);
}

static inline void sm_cv_put_tags(sm_wbuf *w, bool flex)
{
    if (flex)
        w->oom = true;
}

#endif
